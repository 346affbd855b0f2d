namespace Subscriptions.Api.Localization;

/// <summary>
/// The words a reader or subscriber sees (pages, mails, validation messages, answers): English in
/// Texts.resx, each other language in Texts.{language}.resx beside it, read through
/// <c>IStringLocalizer&lt;Texts&gt;</c> in the current UI culture (see <see cref="Languages"/>).
/// </summary>
public sealed class Texts;
