using Microsoft.AspNetCore.WebUtilities;
using Subscriptions.Api.Kernel;

namespace Subscriptions.Api.Signup;

/// <summary>
/// Where a signup came from, as campaign links say it: utm_source, utm_medium, utm_campaign. Taken
/// from the signup's own fields when it sends any of them, else from the query string of its source
/// page (the <c>source</c> field, or the Referer), never a mix of the two. Each value is trimmed
/// text of at most <see cref="MaxLength"/> characters without control characters.
/// </summary>
/// <remarks>
/// Bad values are treated as a bad <c>source</c> is: a field the caller sent is refused with a 400
/// naming it (SignupValidator), while what the page's URL happens to carry is dropped, as an
/// unusable Referer is — the reader did not type it and the signup should not fail over it.
/// </remarks>
public sealed record Attribution(string? Source, string? Medium, string? Campaign)
{
    public const int MaxLength = 100;

    public static readonly Attribution None = new(null, null, null);

    /// <summary>The field names, in forms, JSON, the export and the page's query string alike.</summary>
    public const string SourceField = "utm_source", MediumField = "utm_medium", CampaignField = "utm_campaign";

    /// <summary>A value that may be kept: plain text of at most <see cref="MaxLength"/> characters once trimmed.</summary>
    public static bool IsValid(string value)
    {
        var trimmed = value.Trim();
        return trimmed.Length is > 0 and <= MaxLength && InputRules.IsPlainText(trimmed) && !trimmed.Contains('\uFFFD', StringComparison.Ordinal);
    }

    /// <param name="sourcePage">The page the signup came from: its <c>source</c> field, else the Referer (an absolute http(s) URL).</param>
    public static Attribution From(SignupInput input, string? sourcePage)
    {
        if (input.UtmSource is not null || input.UtmMedium is not null || input.UtmCampaign is not null)
        {
            // the validator refused the signup if any of them broke the rules
            return new(Kept(input.UtmSource), Kept(input.UtmMedium), Kept(input.UtmCampaign));
        }

        if (sourcePage is null || !Uri.TryCreate(sourcePage, UriKind.Absolute, out var page) || page.Query.Length < 2)
        {
            return None;
        }

        var query = QueryHelpers.ParseQuery(page.Query);
        var found = new Attribution(FromQuery(query, SourceField), FromQuery(query, MediumField), FromQuery(query, CampaignField));
        return found == None ? None : found;
    }

    static string? Kept(string? value) => value is not null && IsValid(value) ? value.Trim() : null;

    // a name given twice in the URL: the first, as analytics tools read it
    static string? FromQuery(Dictionary<string, Microsoft.Extensions.Primitives.StringValues> query, string name) =>
        query.TryGetValue(name, out var values) ? Kept(values[0]) : null;
}
