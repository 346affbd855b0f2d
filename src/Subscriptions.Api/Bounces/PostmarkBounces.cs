using System.Globalization;
using System.Net.Http.Headers;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Microsoft.Extensions.Options;
using Subscriptions.Api.Mail;

namespace Subscriptions.Api.Bounces;

/// <summary>
/// Postmark's Bounce and SpamComplaint webhooks. Postmark signs nothing: the webhook URL carries
/// HTTP basic auth credentials (Bounces__Postmark__Username/Password), checked in constant time.
/// Postmark has no replay window; a repeated event is recognized by its RecordType and ID.
/// </summary>
public sealed class PostmarkBounces(IOptions<BounceOptions> options)
{
    // Postmark's bounce types (its Bounce API reference): which end an address, which may pass
    static readonly string[] Hard = ["HardBounce", "BadEmailAddress"];
    static readonly string[] Soft = ["SoftBounce", "Transient", "DnsError"];

    public bool Configured => options.Value.Postmark.Configured;

    public BounceVerdict Read(HttpRequest request, ReadOnlyMemory<byte> body)
    {
        if (!Authorized(request.Headers.Authorization.ToString()))
        {
            return new BounceVerdict.Refused("wrong or missing basic auth credentials");
        }

        using var document = BounceJson.TryParse(body);
        var root = document?.RootElement;
        if (root is not { ValueKind: JsonValueKind.Object } record
            || BounceJson.String(record, "RecordType") is not { } recordType
            || !record.TryGetProperty("ID", out var idElement) || BounceJson.Text(idElement) is not { Length: > 0 } id
            || BounceJson.String(record, "Email") is not { } email)
        {
            return new BounceVerdict.Malformed("a Postmark webhook is a JSON object with RecordType, ID and Email");
        }

        var eventId = $"{recordType}:{id}";
        if (!BounceJson.IsSafeId(eventId))
        {
            return new BounceVerdict.Malformed("the ID is not one Postmark gives");
        }

        var type = BounceJson.String(record, "Type");
        string? kind = recordType switch
        {
            "SpamComplaint" => "complaint",
            "Bounce" when type == "SpamComplaint" => "complaint",
            "Bounce" when Hard.Contains(type) => "hard_bounce",
            "Bounce" when Soft.Contains(type) => "soft_bounce",
            _ => null, // opens, deliveries, auto-responders…: nothing to act on
        };
        var occurredAt = DateTimeOffset.TryParse(BounceJson.String(record, "BouncedAt"), CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var at)
            ? at
            : DateTimeOffset.UtcNow;
        var outboxId = record.TryGetProperty("Metadata", out var metadata) ? BounceRouting.ParseId(BounceJson.String(metadata, BounceRouting.MetadataKey)) : null;
        return new BounceVerdict.Accepted(kind is null || BounceJson.Report(eventId, email, kind, outboxId, occurredAt) is not { } report ? [] : [report]);
    }

    bool Authorized(string header)
    {
        if (!AuthenticationHeaderValue.TryParse(header, out var value) || !value.Scheme.Equals("Basic", StringComparison.OrdinalIgnoreCase)
            || value.Parameter is null)
        {
            return false;
        }

        byte[] given;
        try
        {
            given = Convert.FromBase64String(value.Parameter);
        }
        catch (FormatException)
        {
            return false;
        }

        var postmark = options.Value.Postmark;
        return CryptographicOperations.FixedTimeEquals(given, Encoding.UTF8.GetBytes($"{postmark.Username}:{postmark.Password}"));
    }
}
