using Subscriptions.Api.Pages;

namespace Subscriptions.Api.Embed;

/// <summary>
/// The signup form page a news site frames (<see cref="EmbedFormPage"/>): one list, its consent text,
/// the hidden honeypot field, and the form's own words. The words are read when the form is made
/// (<see cref="For"/>), in the language its handler chose with the list's default: the page is written
/// after the handler returns, when the culture is the request's Accept-Language one again.
/// </summary>
public sealed record EmbedForm(
    string Title, string EmailLabel, string SignUpButton, string HoneypotLabel, string List, string ConsentText, string Honeypot,
    IReadOnlyList<KeyValuePair<string, string>> Attribution) : PageWords
{
    /// <param name="attribution">The utm_* fields of the frame's own URL, posted on as hidden fields (the signup reads no Referer from a hosted page).</param>
    public static EmbedForm For(
        PageText text, string list, string listName, string consentText, string honeypot, IReadOnlyList<KeyValuePair<string, string>> attribution) =>
        new(string.Format(text.SignUpTitle, listName), text.EmailLabel, text.SignUpButton, text.HoneypotLabel, list, consentText, honeypot, attribution);
}
