using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Microsoft.Extensions.Options;
using Subscriptions.Api.Mail;

namespace Subscriptions.Api.Bounces;

/// <summary>
/// Mailgun's webhooks (JSON): "failed" (permanent: a hard bounce; temporary: a soft one) and
/// "complained". The body carries its own signature: HMAC-SHA256 of timestamp + token under the
/// webhook signing key (Bounces__Mailgun__SigningKey), hex. A timestamp outside the replay window
/// is refused, and so is a token seen before.
/// </summary>
public sealed class MailgunBounces(IOptions<BounceOptions> options, TimeProvider clock)
{
    public bool Configured => options.Value.Mailgun.Configured;

    public BounceVerdict Read(ReadOnlyMemory<byte> body)
    {
        using var document = BounceJson.TryParse(body);
        if (document?.RootElement is not { ValueKind: JsonValueKind.Object } root)
        {
            return new BounceVerdict.Malformed("a Mailgun webhook is a JSON object with signature and event-data");
        }

        var signature = root.TryGetProperty("signature", out var s) ? s : default;
        if (BounceJson.String(signature, "timestamp") is not { } timestamp || BounceJson.String(signature, "token") is not { } token
            || BounceJson.String(signature, "signature") is not { } hex)
        {
            return new BounceVerdict.Refused("unsigned");
        }

        if (!Verified(timestamp, token, hex))
        {
            return new BounceVerdict.Refused("wrong signature");
        }

        if (!long.TryParse(timestamp, NumberStyles.None, CultureInfo.InvariantCulture, out var seconds)
            || seconds > DateTimeOffset.MaxValue.ToUnixTimeSeconds()
            || (clock.GetUtcNow() - DateTimeOffset.FromUnixTimeSeconds(seconds)).Duration() > options.Value.ReplayWindow)
        {
            return new BounceVerdict.Refused("timestamp outside the replay window");
        }

        if (!BounceJson.IsSafeId(token))
        {
            return new BounceVerdict.Refused("not a token Mailgun gives");
        }

        if (!root.TryGetProperty("event-data", out var data) || data.ValueKind != JsonValueKind.Object
            || BounceJson.String(data, "event") is not { } eventName || BounceJson.String(data, "id") is not { } id || !BounceJson.IsSafeId(id))
        {
            return new BounceVerdict.Malformed("event-data needs an event and an id");
        }

        var kind = (eventName, BounceJson.String(data, "severity")) switch
        {
            ("failed", "permanent") => "hard_bounce",
            ("failed", "temporary") => "soft_bounce",
            ("complained", _) => "complaint",
            _ => null,
        };
        var occurredAt = data.TryGetProperty("timestamp", out var t) && t.ValueKind == JsonValueKind.Number && t.TryGetDouble(out var unix)
            && unix is > 0 and < 253402300799
            ? DateTimeOffset.FromUnixTimeMilliseconds((long)(unix * 1000))
            : clock.GetUtcNow();
        var outboxId = data.TryGetProperty("user-variables", out var variables) ? BounceRouting.ParseId(BounceJson.String(variables, BounceRouting.MetadataKey)) : null;
        var report = kind is null ? null : BounceJson.Report(id, BounceJson.String(data, "recipient"), kind, outboxId, occurredAt);
        return new BounceVerdict.Accepted(report is null ? [] : [report], token);
    }

    bool Verified(string timestamp, string token, string hex)
    {
        if (hex.Length != HMACSHA256.HashSizeInBytes * 2)
        {
            return false;
        }

        byte[] given;
        try
        {
            given = Convert.FromHexString(hex);
        }
        catch (FormatException)
        {
            return false;
        }

        var expected = HMACSHA256.HashData(Encoding.UTF8.GetBytes(options.Value.Mailgun.SigningKey!), Encoding.UTF8.GetBytes(timestamp + token));
        return CryptographicOperations.FixedTimeEquals(given, expected);
    }
}
