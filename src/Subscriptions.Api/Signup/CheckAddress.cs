using Microsoft.Extensions.Localization;
using RazorSlices;
using Subscriptions.Api.Localization;
using Subscriptions.Api.Pages;

namespace Subscriptions.Api.Signup;

/// <summary>
/// What a form post without JavaScript gets when its domain looks like a typo
/// (<see cref="CheckAddressPage"/>): the address as typed, which was signed up, and a button that
/// signs up the suggested one with the same lists, name, language, source and attribution. Only for the reader
/// who typed it, and the same whatever the address's state: it says nothing about subscriptions.
/// </summary>
public sealed record CheckAddress(
    string Title, string Typed, string Question, string UseButton, string KeepLink, string KeepUrl, IReadOnlyList<KeyValuePair<string, string>> Fields) : PageWords
{
    /// <param name="thankYouUrl">Where the reader goes on with the address as typed: the list's thank-you page.</param>
    /// <param name="source">The page the signup came from, carried over (the corrected post's Referer is this page).</param>
    public static RazorSlice<CheckAddress> Show(
        SignupInput input, string suggestion, string thankYouUrl, string? source, IStringLocalizer<Texts> texts)
    {
        var typed = input.Email!.Trim();
        var fields = new List<KeyValuePair<string, string>> { new("email", suggestion), new("consent", "on") };
        fields.AddRange(input.Lists.Select(list => KeyValuePair.Create("list", list)));
        AddIfGiven(fields, "name", input.Name);
        AddIfGiven(fields, "locale", input.Locale);
        AddIfGiven(fields, "source", source);
        AddIfGiven(fields, Attribution.SourceField, input.UtmSource);
        AddIfGiven(fields, Attribution.MediumField, input.UtmMedium);
        AddIfGiven(fields, Attribution.CampaignField, input.UtmCampaign);
        var page = new CheckAddress(texts["CheckAddressTitle"], texts["AddressTyped", typed], texts["DidYouMean", suggestion],
            texts["UseSuggestion", suggestion],
            texts["KeepAddress", typed], thankYouUrl, fields);
        return TypedResults.RazorSlice<CheckAddressPage, CheckAddress>(page);
    }

    static void AddIfGiven(List<KeyValuePair<string, string>> fields, string name, string? value)
    {
        if (!string.IsNullOrEmpty(value))
        {
            fields.Add(KeyValuePair.Create(name, value));
        }
    }
}
