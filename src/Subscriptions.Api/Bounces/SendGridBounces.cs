using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Microsoft.Extensions.Options;
using Subscriptions.Api.Mail;

namespace Subscriptions.Api.Bounces;

/// <summary>
/// SendGrid's Event Webhook: a JSON array of events, of which "bounce" (type bounce: hard;
/// blocked: soft), "dropped" (for a bounced, invalid or spam-reporting address) and "spamreport"
/// matter. Signed Event Webhook: an ECDSA P-256 signature (X-Twilio-Email-Event-Webhook-Signature,
/// base64 DER) over the timestamp header followed by the raw body, checked with .NET's ECDsa
/// against Bounces__SendGrid__PublicKey; a timestamp outside the replay window is refused.
/// </summary>
public sealed class SendGridBounces(IOptions<BounceOptions> options, TimeProvider clock) : IDisposable
{
    public const string SignatureHeader = "X-Twilio-Email-Event-Webhook-Signature";
    public const string TimestampHeader = "X-Twilio-Email-Event-Webhook-Timestamp";

    readonly ECDsa? _key = CreateKey(options.Value.SendGrid.PublicKey);

    public bool Configured => _key is not null;

    public BounceVerdict Read(HttpRequest request, ReadOnlyMemory<byte> body)
    {
        var signature = request.Headers[SignatureHeader].ToString();
        var timestamp = request.Headers[TimestampHeader].ToString();
        if (signature.Length == 0 || timestamp.Length == 0)
        {
            return new BounceVerdict.Refused("unsigned");
        }

        if (!Verified(timestamp, signature, body.Span))
        {
            return new BounceVerdict.Refused("wrong signature");
        }

        if (!long.TryParse(timestamp, NumberStyles.None, CultureInfo.InvariantCulture, out var seconds)
            || seconds > DateTimeOffset.MaxValue.ToUnixTimeSeconds()
            || (clock.GetUtcNow() - DateTimeOffset.FromUnixTimeSeconds(seconds)).Duration() > options.Value.ReplayWindow)
        {
            return new BounceVerdict.Refused("timestamp outside the replay window");
        }

        using var document = BounceJson.TryParse(body);
        if (document?.RootElement is not { ValueKind: JsonValueKind.Array } events)
        {
            return new BounceVerdict.Malformed("the Event Webhook posts a JSON array of events");
        }

        var reports = new List<BounceReport>();
        foreach (var e in events.EnumerateArray())
        {
            if (e.ValueKind != JsonValueKind.Object)
            {
                return new BounceVerdict.Malformed("every event is a JSON object");
            }

            var kind = (BounceJson.String(e, "event"), BounceJson.String(e, "type"), BounceJson.String(e, "reason") ?? "") switch
            {
                ("bounce", "blocked", _) => "soft_bounce",
                ("bounce", _, _) => "hard_bounce",
                ("spamreport", _, _) => "complaint",
                ("dropped", _, var reason) when reason.Contains("Spam Report", StringComparison.OrdinalIgnoreCase) => "complaint",
                ("dropped", _, var reason) when reason.Contains("Bounced Address", StringComparison.OrdinalIgnoreCase)
                    || reason.Equals("Invalid", StringComparison.OrdinalIgnoreCase) => "hard_bounce",
                _ => null,
            };
            if (kind is null)
            {
                continue;
            }

            // sg_event_id names an event; the few without one are named by their own content
            var id = BounceJson.String(e, "sg_event_id") ?? Convert.ToHexString(SHA256.HashData(Encoding.UTF8.GetBytes(e.GetRawText())));
            if (!BounceJson.IsSafeId(id))
            {
                return new BounceVerdict.Malformed("an sg_event_id that is not one SendGrid gives");
            }

            var occurredAt = e.TryGetProperty("timestamp", out var t) && t.ValueKind == JsonValueKind.Number && t.TryGetInt64(out var unix)
                && unix is > 0 and < 253402300799
                ? DateTimeOffset.FromUnixTimeSeconds(unix)
                : clock.GetUtcNow();
            // unique_args set through X-SMTPAPI come back as properties of the event
            var outboxId = BounceRouting.ParseId(BounceJson.String(e, BounceRouting.MetadataKey));
            if (BounceJson.Report(id, BounceJson.String(e, "email"), kind, outboxId, occurredAt) is { } report)
            {
                reports.Add(report);
            }
        }

        return new BounceVerdict.Accepted(reports);
    }

    bool Verified(string timestamp, string signature, ReadOnlySpan<byte> body)
    {
        byte[] given;
        try
        {
            given = Convert.FromBase64String(signature);
        }
        catch (FormatException)
        {
            return false;
        }

        var signed = new byte[Encoding.UTF8.GetByteCount(timestamp) + body.Length];
        var written = Encoding.UTF8.GetBytes(timestamp, signed);
        body.CopyTo(signed.AsSpan(written));
        try
        {
            return _key!.VerifyData(signed, given, HashAlgorithmName.SHA256, DSASignatureFormat.Rfc3279DerSequence);
        }
        catch (CryptographicException)
        {
            return false; // not a DER signature at all
        }
    }

    static ECDsa? CreateKey(string? publicKey)
    {
        if (string.IsNullOrEmpty(publicKey) || !BounceOptions.SendGridOptions.IsValidKey(publicKey))
        {
            return null;
        }

        var key = ECDsa.Create();
        key.ImportSubjectPublicKeyInfo(Convert.FromBase64String(publicKey), out _);
        return key;
    }

    public void Dispose() => _key?.Dispose();
}
