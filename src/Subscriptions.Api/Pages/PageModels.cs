namespace Subscriptions.Api.Pages;

/// <summary>What every hosted page has: its title, which is also its heading. Its language is the reader's (<see cref="Localization.Languages.Current"/>).</summary>
public sealed record PageFrame(string Title);

/// <summary>A link within a sentence: the linked words, then the rest of the sentence.</summary>
public sealed record PageLink(string Href, string Text, string After);

/// <summary>A page that says one thing (<see cref="MessagePage"/>), and may offer a link.</summary>
public sealed record Message(string Title, string? Text, PageLink? Link = null);

/// <summary>A page with one button that posts back to its own address (<see cref="OneButtonPage"/>: confirm, unsubscribe).</summary>
public sealed record OneButton(string Title, string Prompt, string Button);

/// <summary>A form post that was refused, and why (<see cref="RefusedFormPage"/>).</summary>
public sealed record RefusedForm(string Title, string Intro, IReadOnlyList<string> Errors, string Outro);
