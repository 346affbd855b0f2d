using Subscriptions.Api.Localization;

namespace Subscriptions.Api.Pages;

/// <summary>What every hosted page has: its language and its title, which is also its heading.</summary>
public sealed record PageFrame(string Language, string Title);

/// <summary>
/// A page's words are read in the language of the moment they are chosen, which is also the page's
/// (the handler may have chosen one; the page is written after it returns).
/// </summary>
public abstract record PageWords
{
    public string Language { get; init; } = Languages.Current;
}

/// <summary>A link within a sentence: the linked words, then the rest of the sentence.</summary>
public sealed record PageLink(string Href, string Text, string After);

/// <summary>A page that says one thing (<see cref="MessagePage"/>), and may offer a link.</summary>
public sealed record Message(string Title, string? Text, PageLink? Link = null) : PageWords;

/// <summary>A page with one button that posts back to its own address (<see cref="OneButtonPage"/>: confirm, unsubscribe).</summary>
public sealed record OneButton(string Title, string Prompt, string Button) : PageWords;

/// <summary>A form post that was refused, and why (<see cref="RefusedFormPage"/>).</summary>
public sealed record RefusedForm(string Title, string Intro, IReadOnlyList<string> Errors, string Outro) : PageWords;
