using System.Buffers;
using System.Text;
using System.Text.RegularExpressions;

namespace Subscriptions.Api.Kernel;

/// <summary>
/// The rules for text that comes in, shared by every feature that takes it (signup, lists,
/// webhooks, export, pages, configuration): one definition each, so a slug or an origin means the
/// same at every door. Pure functions; this folder imports no feature.
/// </summary>
public static partial class InputRules
{
    /// <summary>The list a signup joins when it names none (DESIGN.md: "none = the default list news").</summary>
    public const string DefaultList = "news";

    public const int MaxWebAddressLength = 2048;
    public const int MaxRedirectTargetLength = 2048;

    /// <summary>Well-formed UTF-16 (no lone surrogates, which PostgreSQL cannot store) without control characters.</summary>
    public static bool IsPlainText(string value)
    {
        var rest = value.AsSpan();
        while (!rest.IsEmpty)
        {
            if (Rune.DecodeFromUtf16(rest, out var rune, out var consumed) != OperationStatus.Done || Rune.IsControl(rune))
            {
                return false;
            }

            rest = rest[consumed..];
        }

        return true;
    }

    /// <summary>An absolute http(s) URL in plain text: a page a form may be on.</summary>
    public static bool IsWebAddress(string value) =>
        value.Length <= MaxWebAddressLength
        && IsPlainText(value)
        && Uri.TryCreate(value, UriKind.Absolute, out var uri)
        && (uri.Scheme == Uri.UriSchemeHttps || uri.Scheme == Uri.UriSchemeHttp);

    /// <summary>Absolute https URL (http for localhost), so 303s only ever go where an editor said.</summary>
    public static bool IsRedirectTarget(string value) =>
        value.Length <= MaxRedirectTargetLength
        && IsPlainText(value)
        && Uri.TryCreate(value, UriKind.Absolute, out var uri)
        && (uri.Scheme == Uri.UriSchemeHttps || (uri.Scheme == Uri.UriSchemeHttp && uri.IsLoopback))
        && string.IsNullOrEmpty(uri.UserInfo);

    /// <summary>scheme://host[:port] with no path, https (http only for localhost): what CORS and frame-ancestors name.</summary>
    public static bool IsOrigin(string value) =>
        IsRedirectTarget(value)
        && Uri.TryCreate(value, UriKind.Absolute, out var uri)
        && uri.AbsolutePath == "/" && string.IsNullOrEmpty(uri.Query) && string.IsNullOrEmpty(uri.Fragment);

    public static bool IsLanguageTag(string value) => LanguageTag().IsMatch(value);

    /// <summary>1-63 lower-case letters, digits and hyphens. A value that is not one names no list and never reaches PostgreSQL.</summary>
    public static bool IsListSlug(string value) => ListSlug().IsMatch(value);

    /// <summary>Lower-cases the language, title-cases a script and upper-cases a region: en-us → en-US.</summary>
    public static string CanonicalLocale(string tag)
    {
        var parts = tag.Split('-');
        parts[0] = parts[0].ToLowerInvariant();
        for (var i = 1; i < parts.Length; i++)
        {
            if (parts[i - 1].Length == 1)
            {
                // an extension or private-use singleton: the rest keeps its case
                break;
            }

            parts[i] = parts[i].Length switch
            {
                2 => parts[i].ToUpperInvariant(),
                4 when char.IsAsciiLetter(parts[i][0]) => char.ToUpperInvariant(parts[i][0]) + parts[i][1..].ToLowerInvariant(),
                _ => parts[i].ToLowerInvariant(),
            };
        }

        return string.Join('-', parts);
    }

    // RFC 5646 well-formed language tags (grandfathered tags aside), at most 35 characters.
    [GeneratedRegex(@"^(?=.{2,35}\z)[a-zA-Z]{2,3}(-[a-zA-Z]{3}){0,3}(-[a-zA-Z]{4})?(-([a-zA-Z]{2}|[0-9]{3}))?(-([a-zA-Z0-9]{5,8}|[0-9][a-zA-Z0-9]{3}))*(-[0-9a-wyzA-WYZ](-[a-zA-Z0-9]{2,8})+)*(-x(-[a-zA-Z0-9]{1,8})+)?\z")]
    private static partial Regex LanguageTag();

    [GeneratedRegex(@"^[a-z0-9][a-z0-9-]{0,62}\z")]
    private static partial Regex ListSlug();
}
