using System.Globalization;
using System.Net;
using Subscriptions.Api.Kernel;
using Subscriptions.Api.Localization;

namespace Subscriptions.Api.Import;

/// <summary>One row of a file as it goes into the staging table: validated, normalized, with the status it asks for.</summary>
public sealed record ImportRow(
    long Line, string Email, string EmailAsTyped, string? Name, string? Locale, string Status, DateTime? SignedUpAt,
    DateTime ConsentAt, IPAddress? ConsentIp, string? ConsentUserAgent, string? ConsentSource, string ConsentTextVersion,
    string? ConsentTextLanguage, DateTime? ConfirmedAt, DateTime? UnsubscribedAt, string MailLanguage);

/// <summary>A row left out, with its line in the file and why (a code for scripts, a sentence for people).</summary>
public sealed record ImportError(long Line, string? Field, string Reason, string Message);

/// <summary>
/// The signup's rules for each row (the same address, name, locale and source rules), and the
/// import's own: a row is <c>confirmed</c> only when its source did not say otherwise and it
/// carries consent evidence, a time and an IP address or a source; an unsubscribed (or
/// blocklisted) row stays unsubscribed; a row Mailchimp cleaned (bounced) is refused; everything
/// else is <c>pending</c>. Pure functions.
/// </summary>
public static class ImportRowRules
{
    const int MaxUserAgentLength = 512;
    const int MaxNameLength = 200;
    const int MaxTextVersionLength = 100;

    /// <summary>What the consent text was when the file does not say: the old tool's, which this service never saw.</summary>
    public const string UnknownTextVersion = "imported";

    // the exact forms first (ISO 8601 as our export writes it, Mailchimp's, a date): the general parser is the slow fallback
    static readonly string[] Formats =
    [
        "yyyy-MM-dd'T'HH:mm:ss.FFFFFFFK", "yyyy-MM-dd'T'HH:mm:ssK", "yyyy-MM-dd HH:mm:ss", "yyyy-MM-dd HH:mm:ss.FFFFFFF", "yyyy-MM-dd",
    ];

    public static bool TryRead(long line, string?[] fields, DateTime now, string listLanguage, out ImportRow row, out ImportError error)
    {
        row = null!;
        error = null!;
        foreach (var value in fields)
        {
            // a byte that was not UTF-8 came through as U+FFFD: the file was saved in another charset
            if (value is not null && value.Contains('\uFFFD', StringComparison.Ordinal))
            {
                return Fail(line, null, "not_utf8", "The row is not UTF-8 text: save the file as UTF-8.", out error);
            }
        }

        var typed = fields[(int)ImportField.Email];
        if (typed is null)
        {
            return Fail(line, "email", "email_missing", "The row has no address.", out error);
        }

        if (!EmailAddress.TryNormalize(typed, out var email))
        {
            return Fail(line, "email", "email_invalid", "Not an address this service accepts.", out error);
        }

        var name = fields[(int)ImportField.Name]
            ?? (fields[(int)ImportField.FirstName], fields[(int)ImportField.LastName]) switch
            {
                (null, null) => null,
                (var first, var last) => $"{first} {last}".Trim(),
            };
        if (name is not null && (name.Length > MaxNameLength || !InputRules.IsPlainText(name)))
        {
            return Fail(line, "name", "name_invalid", $"A name is plain text of at most {MaxNameLength} characters.", out error);
        }

        var locale = fields[(int)ImportField.Locale];
        if (locale is not null && !InputRules.IsLanguageTag(locale))
        {
            return Fail(line, "locale", "locale_invalid", "locale is a language tag such as de-CH.", out error);
        }

        var source = fields[(int)ImportField.ConsentSource];
        if (source is not null && !InputRules.IsWebAddress(source))
        {
            return Fail(line, "consent_source", "source_invalid", "A source is the http(s) address of the page the form was on.", out error);
        }

        var userAgent = fields[(int)ImportField.ConsentUserAgent];
        if (userAgent is not null && !InputRules.IsPlainText(userAgent))
        {
            return Fail(line, "consent_user_agent", "user_agent_invalid", "A user agent is plain text.", out error);
        }

        var textVersion = fields[(int)ImportField.ConsentTextVersion];
        if (textVersion is not null && (textVersion.Length > MaxTextVersionLength || !InputRules.IsPlainText(textVersion)))
        {
            return Fail(line, "consent_text_version", "text_version_invalid", $"A consent text version is plain text of at most {MaxTextVersionLength} characters.", out error);
        }

        var textLanguage = fields[(int)ImportField.ConsentTextLanguage];
        if (textLanguage is not null && (textLanguage.Length > 35 || !InputRules.IsLanguageTag(textLanguage)))
        {
            return Fail(line, "consent_text_language", "text_language_invalid", "consent_text_language is a language tag.", out error);
        }

        IPAddress? ip = null;
        if ((fields[(int)ImportField.ConsentIp] ?? fields[(int)ImportField.ConfirmIp]) is { } ipText && !IPAddress.TryParse(ipText, out ip))
        {
            return Fail(line, "consent_ip", "ip_invalid", "Not an IP address.", out error);
        }

        if (!TryTime(fields, ImportField.SignedUpAt, out var signedUpAt, out var field)
            || !TryTime(fields, ImportField.ConsentAt, out var consentAt, out field)
            || !TryTime(fields, ImportField.ConfirmedAt, out var confirmedAt, out field)
            || !TryTime(fields, ImportField.UnsubscribedAt, out var unsubscribedAt, out field)
            || !TryTime(fields, ImportField.CleanedAt, out var cleanedAt, out field))
        {
            return Fail(line, field, "time_invalid", "A time is ISO 8601 (2024-05-01T12:00:00Z) or yyyy-MM-dd HH:mm:ss in UTC.", out error);
        }

        if (!TryStatus(fields[(int)ImportField.Status], out var claimed))
        {
            return Fail(line, "status", "status_unknown", "status is pending, confirmed, subscribed, unsubscribed, blocklisted or cleaned.", out error);
        }

        // Mailchimp's unsubscribed and cleaned exports say so by their time columns alone
        claimed = cleanedAt is not null ? "cleaned" : unsubscribedAt is not null && claimed is null ? "unsubscribed" : claimed;
        var evidenceTime = consentAt ?? confirmedAt ?? signedUpAt;
        var hasEvidence = evidenceTime is not null && (ip is not null || source is not null);
        var status = claimed switch
        {
            "cleaned" or "unsubscribed" => claimed,
            null or "confirmed" when hasEvidence => "confirmed",
            _ => "pending",
        };

        var language = locale?.Split('-')[0].ToLowerInvariant() is { } l && Languages.Supported.Contains(l) ? l : listLanguage;
        row = new ImportRow(
            line, email, typed.Trim().Normalize(), name, locale is null ? null : InputRules.CanonicalLocale(locale), status, signedUpAt,
            evidenceTime ?? now, ip, userAgent?[..Math.Min(userAgent.Length, MaxUserAgentLength)], source,
            textVersion ?? UnknownTextVersion, textLanguage,
            status == "pending" ? null : confirmedAt ?? (status == "confirmed" ? evidenceTime : null),
            status == "unsubscribed" ? unsubscribedAt ?? now : null,
            language);
        return true;
    }

    static bool TryStatus(string? value, out string? status)
    {
        status = value?.ToLowerInvariant() switch
        {
            null or "" or "enabled" => null, // listmonk's enabled is the subscriber, not a confirmed subscription
            "confirmed" or "subscribed" or "active" => "confirmed",
            "pending" or "unconfirmed" => "pending",
            "unsubscribed" or "blocklisted" or "blacklisted" or "disabled" => "unsubscribed",
            "cleaned" or "bounced" => "cleaned",
            _ => "?",
        };
        return status != "?";
    }

    static bool TryTime(string?[] fields, ImportField field, out DateTime? utc, out string name)
    {
        utc = null;
        name = field switch
        {
            ImportField.SignedUpAt => "signed_up_at",
            ImportField.ConsentAt => "consent_at",
            ImportField.ConfirmedAt => "confirmed_at",
            ImportField.UnsubscribedAt => "unsubscribed_at",
            _ => "clean_time",
        };
        if (fields[(int)field] is not { } text)
        {
            return true;
        }

        // listmonk (PostgreSQL's text form) ends with +00: .NET wants +00:00
        if (text.Length > 3 && text[^3] is '+' or '-' && char.IsAsciiDigit(text[^1]) && char.IsAsciiDigit(text[^2]))
        {
            text += ":00";
        }

        const DateTimeStyles styles = DateTimeStyles.AssumeUniversal | DateTimeStyles.AdjustToUniversal;
        if (DateTimeOffset.TryParseExact(text, Formats, CultureInfo.InvariantCulture, styles, out var exact)
            || DateTimeOffset.TryParse(text, CultureInfo.InvariantCulture, styles, out exact))
        {
            utc = exact.UtcDateTime;
            return exact.Year is >= 1990 and <= 9999;
        }

        return false;
    }

    static bool Fail(long line, string? field, string reason, string message, out ImportError error)
    {
        error = new ImportError(line, field, reason, message);
        return false;
    }
}
