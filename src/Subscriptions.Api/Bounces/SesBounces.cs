using System.Globalization;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using System.Text.Json;
using Microsoft.Extensions.Options;
using Subscriptions.Api.Mail;

namespace Subscriptions.Api.Bounces;

/// <summary>
/// Amazon SES bounce and complaint notifications, delivered by Amazon SNS over HTTP(S). Every SNS
/// message is verified as AWS documents it: the topic must be one of Bounces__Ses__TopicArns, the
/// signing certificate comes only from an allowed URL (<see cref="SnsCertificates"/>), and the
/// RSA signature (SignatureVersion 1: SHA1, 2: SHA256) covers the message's fields in their fixed
/// order. A SubscriptionConfirmation is confirmed at once by visiting its SubscribeURL, which must
/// be on the certificate's host. Hand-written: AWS's own verifier (AWSSDK.SimpleNotificationService's
/// Message.IsMessageSignatureValid) is not on the package feed, and it fetches certificates from
/// a fixed host pattern that tests cannot point at a local server.
/// </summary>
public sealed class SesBounces(IOptions<BounceOptions> options, SnsCertificates certificates, IHttpClientFactory httpClients, TimeProvider clock)
{
    public bool Configured => options.Value.Ses.Configured;

    public async Task<BounceVerdict> ReadAsync(ReadOnlyMemory<byte> body, CancellationToken cancellationToken)
    {
        using var document = BounceJson.TryParse(body);
        if (document?.RootElement is not { ValueKind: JsonValueKind.Object } message || BounceJson.String(message, "Type") is not { } type)
        {
            return new BounceVerdict.Malformed("an SNS message is a JSON object with a Type");
        }

        string? Field(string name) => BounceJson.String(message, name);
        if (Field("TopicArn") is not { } topic || !options.Value.Ses.TopicArns.Contains(topic, StringComparer.Ordinal))
        {
            return new BounceVerdict.Refused("not a configured topic");
        }

        if (Field("SigningCertURL") is not { } certificateUrl || !certificates.IsAllowed(certificateUrl))
        {
            return new BounceVerdict.Refused("signing certificate not from an allowed URL");
        }

        var signedFields = type switch
        {
            "Notification" => Field("Subject") is null
                ? ["Message", "MessageId", "Timestamp", "TopicArn", "Type"]
                : new[] { "Message", "MessageId", "Subject", "Timestamp", "TopicArn", "Type" },
            "SubscriptionConfirmation" or "UnsubscribeConfirmation" => ["Message", "MessageId", "SubscribeURL", "Timestamp", "Token", "TopicArn", "Type"],
            _ => null,
        };
        if (signedFields is null || signedFields.Any(f => Field(f) is null))
        {
            return new BounceVerdict.Refused("not a message SNS signs");
        }

        var stringToSign = new StringBuilder();
        foreach (var field in signedFields)
        {
            stringToSign.Append(field).Append('\n').Append(Field(field)).Append('\n');
        }

        var hash = Field("SignatureVersion") switch
        {
            "1" => HashAlgorithmName.SHA1,
            "2" => HashAlgorithmName.SHA256,
            _ => default,
        };
        if (hash == default || !await VerifiedAsync(certificateUrl, stringToSign.ToString(), Field("Signature"), hash, cancellationToken))
        {
            return new BounceVerdict.Refused("wrong signature");
        }

        if (!DateTimeOffset.TryParse(Field("Timestamp"), CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var timestamp)
            || (clock.GetUtcNow() - timestamp).Duration() > options.Value.ReplayWindow)
        {
            return new BounceVerdict.Refused("timestamp outside the replay window");
        }

        return type switch
        {
            "SubscriptionConfirmation" => await ConfirmAsync(Field("SubscribeURL")!, certificateUrl, cancellationToken),
            "UnsubscribeConfirmation" => new BounceVerdict.Accepted([]),
            _ => Notification(Field("Message")!, Field("MessageId")!, timestamp),
        };
    }

    async Task<bool> VerifiedAsync(string certificateUrl, string stringToSign, string? signature, HashAlgorithmName hash, CancellationToken cancellationToken)
    {
        byte[] given;
        try
        {
            given = Convert.FromBase64String(signature ?? "");
        }
        catch (FormatException)
        {
            return false;
        }

        if (await certificates.GetAsync(certificateUrl, cancellationToken) is not { } certificate || certificate.GetRSAPublicKey() is not { } rsa)
        {
            return false;
        }

        using (rsa)
        {
            return rsa.VerifyData(Encoding.UTF8.GetBytes(stringToSign), given, hash, RSASignaturePadding.Pkcs1);
        }
    }

    async Task<BounceVerdict> ConfirmAsync(string subscribeUrl, string certificateUrl, CancellationToken cancellationToken)
    {
        // the confirmation goes to SNS itself: the host that served the certificate
        if (!Uri.TryCreate(subscribeUrl, UriKind.Absolute, out var subscribe) || !Uri.TryCreate(certificateUrl, UriKind.Absolute, out var certificate)
            || subscribe.Scheme != certificate.Scheme || subscribe.Authority != certificate.Authority || !string.IsNullOrEmpty(subscribe.UserInfo))
        {
            return new BounceVerdict.Refused("SubscribeURL is not on the SNS host");
        }

        try
        {
            using var response = await httpClients.CreateClient(SnsCertificates.HttpClientName).GetAsync(subscribe, cancellationToken);
            return response.IsSuccessStatusCode ? new BounceVerdict.Confirmed() : new BounceVerdict.Unavailable($"SNS answered {(int)response.StatusCode} to the confirmation");
        }
        catch (Exception ex) when (ex is HttpRequestException or TaskCanceledException)
        {
            return new BounceVerdict.Unavailable("SNS could not be reached to confirm the subscription");
        }
    }

    /// <summary>SES's notification (notificationType, or eventType for event publishing): a report per recipient.</summary>
    static BounceVerdict Notification(string text, string messageId, DateTimeOffset timestamp)
    {
        using var document = BounceJson.TryParse(Encoding.UTF8.GetBytes(text));
        if (document?.RootElement is not { ValueKind: JsonValueKind.Object } notification)
        {
            return new BounceVerdict.Malformed("the SNS message is not an SES notification");
        }

        var type = BounceJson.String(notification, "notificationType") ?? BounceJson.String(notification, "eventType");
        var (detail, recipients, kindOf) = type switch
        {
            "Bounce" => ("bounce", "bouncedRecipients", (Func<JsonElement, string>)(b => BounceJson.String(b, "bounceType") == "Permanent" ? "hard_bounce" : "soft_bounce")),
            "Complaint" => ("complaint", "complainedRecipients", _ => "complaint"),
            _ => (null, null, null),
        };
        if (detail is null || !notification.TryGetProperty(detail, out var report) || report.ValueKind != JsonValueKind.Object
            || !report.TryGetProperty(recipients!, out var list) || list.ValueKind != JsonValueKind.Array)
        {
            return new BounceVerdict.Accepted([]); // deliveries and other notifications: nothing to act on
        }

        var kind = kindOf!(report);
        var feedbackId = BounceJson.String(report, "feedbackId") ?? messageId;
        var occurredAt = DateTimeOffset.TryParse(BounceJson.String(report, "timestamp"), CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var at)
            ? at
            : timestamp;
        long? outboxId = null;
        if (notification.TryGetProperty("mail", out var mail) && mail.TryGetProperty("headers", out var headers) && headers.ValueKind == JsonValueKind.Array)
        {
            outboxId = headers.EnumerateArray()
                .Where(h => string.Equals(BounceJson.String(h, "name"), BounceRouting.Header, StringComparison.OrdinalIgnoreCase))
                .Select(h => BounceRouting.ParseId(BounceJson.String(h, "value"))).FirstOrDefault();
        }

        var reports = new List<BounceReport>();
        foreach (var recipient in list.EnumerateArray())
        {
            var address = BounceJson.String(recipient, "emailAddress");
            var eventId = $"{feedbackId}:{address}";
            if (BounceJson.IsSafeId(eventId) && BounceJson.Report(eventId, address, kind, outboxId, occurredAt) is { } bounce)
            {
                reports.Add(bounce);
            }
        }

        return new BounceVerdict.Accepted(reports);
    }
}
