using Subscriptions.Api.Pages;

namespace Subscriptions.Api.Embed;

/// <summary>The signup form page a news site frames (<see cref="EmbedFormPage"/>): one list, its consent text, the hidden honeypot field.</summary>
public sealed record EmbedForm(PageText Text, string List, string ListName, string ConsentText, string Honeypot) : PageWords;
