using System.Globalization;
using MimeKit;

namespace Subscriptions.Api.Mail;

/// <summary>
/// What a mail carries so that a bounce or complaint about it can be tied to its outbox row: our
/// own header, and the metadata fields the providers echo back in their webhooks (Postmark's
/// X-PM-Metadata-*, Mailgun's X-Mailgun-Variables, SendGrid's X-SMTPAPI unique_args; SES echoes
/// the original headers themselves). Relays that do not know a header pass it on unread.
/// </summary>
public static class BounceRouting
{
    public const string Header = "X-Subscriptions-Outbox-Id";

    /// <summary>The name under which the providers' metadata carries the id.</summary>
    public const string MetadataKey = "subscriptions-outbox-id";

    public static void Tag(MimeMessage message, long outboxId)
    {
        var id = outboxId.ToString(CultureInfo.InvariantCulture);
        message.Headers.Replace(Header, id);
        message.Headers.Replace($"X-PM-Metadata-{MetadataKey}", id);
        message.Headers.Replace("X-Mailgun-Variables", $$"""{"{{MetadataKey}}":"{{id}}"}""");
        message.Headers.Replace("X-SMTPAPI", $$$"""{"unique_args":{"{{{MetadataKey}}}":"{{{id}}}"}}""");
    }

    /// <summary>An outbox id as a provider echoed it back; null when it is not one.</summary>
    public static long? ParseId(string? value) =>
        long.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out var id) && id > 0 ? id : null;
}

/// <summary>Smtp__ReturnPath: a fixed envelope sender, or a VERP one whose "{id}" becomes the outbox id.</summary>
public sealed class ReturnPath
{
    const string Placeholder = "{id}";
    readonly string _template;

    ReturnPath(string template) => _template = template;

    public static ReturnPath? Parse(string? value)
    {
        if (string.IsNullOrWhiteSpace(value))
        {
            return null;
        }

        var sample = value.Trim().Replace(Placeholder, "1", StringComparison.Ordinal);
        return MailboxAddress.TryParse(sample, out var address) && address.Address == sample && sample.Contains('@', StringComparison.Ordinal)
            && value.IndexOf(Placeholder, StringComparison.Ordinal) is var at && (at < 0 || at < value.IndexOf('@', StringComparison.Ordinal))
            ? new ReturnPath(value.Trim())
            : null;
    }

    public MailboxAddress For(long outboxId) =>
        new(string.Empty, _template.Replace(Placeholder, outboxId.ToString(CultureInfo.InvariantCulture), StringComparison.Ordinal));
}
