using System.Collections.Frozen;

namespace Subscriptions.Api.Import;

/// <summary>What a column of an imported file can mean to this service.</summary>
public enum ImportField
{
    Email, Name, FirstName, LastName, Status, SignedUpAt, ConsentAt, ConsentIp, ConfirmedAt, ConfirmIp,
    UnsubscribedAt, CleanedAt, ConsentUserAgent, ConsentSource, ConsentTextVersion, ConsentTextLanguage, Locale,
}

/// <summary>
/// Reads the headers of this service's own export, a Mailchimp audience export and a listmonk
/// subscriber export as they come (README, "Import"), and of a spreadsheet that names its columns
/// alike. A header is compared lower-cased, with spaces and hyphens read as underscores; columns
/// it does not know (Mailchimp's MEMBER_RATING, listmonk's attributes, our unsubscribe_url) are
/// ignored.
/// </summary>
public static class ImportColumns
{
    public const int FieldCount = (int)ImportField.Locale + 1;

    static readonly FrozenDictionary<string, ImportField> Names = new Dictionary<string, ImportField>
    {
        ["email"] = ImportField.Email, ["email_address"] = ImportField.Email, ["e_mail"] = ImportField.Email,
        ["name"] = ImportField.Name, ["full_name"] = ImportField.Name,
        ["first_name"] = ImportField.FirstName, ["last_name"] = ImportField.LastName,
        ["status"] = ImportField.Status,
        ["signed_up_at"] = ImportField.SignedUpAt, ["created_at"] = ImportField.SignedUpAt,
        ["consent_at"] = ImportField.ConsentAt, ["optin_time"] = ImportField.ConsentAt,
        ["consent_ip"] = ImportField.ConsentIp, ["optin_ip"] = ImportField.ConsentIp, ["ip"] = ImportField.ConsentIp,
        ["confirmed_at"] = ImportField.ConfirmedAt, ["confirm_time"] = ImportField.ConfirmedAt,
        ["confirm_ip"] = ImportField.ConfirmIp,
        ["unsubscribed_at"] = ImportField.UnsubscribedAt, ["unsub_time"] = ImportField.UnsubscribedAt,
        ["clean_time"] = ImportField.CleanedAt,
        ["consent_user_agent"] = ImportField.ConsentUserAgent,
        ["consent_source"] = ImportField.ConsentSource, ["source"] = ImportField.ConsentSource,
        ["consent_text_version"] = ImportField.ConsentTextVersion,
        ["consent_text_language"] = ImportField.ConsentTextLanguage,
        ["locale"] = ImportField.Locale,
    }.ToFrozenDictionary(StringComparer.Ordinal);

    public static ImportField? Field(string header)
    {
        var key = header.Trim().ToLowerInvariant().Replace(' ', '_').Replace('-', '_');
        return Names.TryGetValue(key, out var field) ? field : null;
    }

    /// <summary>The field of each column, -1 for a column this service does not read.</summary>
    public static int[] Map(IReadOnlyList<string> headers) =>
        [.. headers.Select(h => Field(h) is { } field ? (int)field : -1)];

    /// <summary>Where the file comes from, by its header: reported back, and named in the ledger.</summary>
    public static string Profile(IReadOnlyList<string> headers)
    {
        var names = headers.Select(h => h.Trim().ToLowerInvariant()).ToHashSet(StringComparer.Ordinal);
        if (names.Contains("email address") && (names.Contains("optin_time") || names.Contains("confirm_time") || names.Contains("leid")))
        {
            return "mailchimp";
        }

        if (names.Contains("uuid") && names.Contains("attributes"))
        {
            return "listmonk";
        }

        return names.Contains("consent_text_version") && names.Contains("signed_up_at") ? "subscriptions" : "spreadsheet";
    }
}
