using Microsoft.Extensions.Localization;
using Subscriptions.Api.Localization;

namespace Subscriptions.Api.Pages;

/// <summary>
/// The words of the hosted pages, from the <see cref="Texts"/> resources in the request's language
/// (<see cref="Languages"/>). {0} in a sentence is a list's name, already quoted (<see cref="Named"/>).
/// </summary>
public sealed class PageText(IStringLocalizer<Texts> texts)
{
    public string Language => Languages.Current;

    public string Quote => texts[nameof(Quote)];

    public string OurNewsletter => texts[nameof(OurNewsletter)];

    public string ThisNewsletter => texts[nameof(ThisNewsletter)];

    public string CheckInboxTitle => texts[nameof(CheckInboxTitle)];

    public string CheckInbox => texts[nameof(CheckInbox)];

    public string FormErrorsTitle => texts[nameof(FormErrorsTitle)];

    public string FormErrorsIntro => texts[nameof(FormErrorsIntro)];

    public string FormErrorsOutro => texts[nameof(FormErrorsOutro)];

    public string ConfirmTitle => texts[nameof(ConfirmTitle)];

    public string ConfirmPrompt => texts[nameof(ConfirmPrompt)];

    public string ConfirmButton => texts[nameof(ConfirmButton)];

    public string ConfirmedTitle => texts[nameof(ConfirmedTitle)];

    public string Confirmed => texts[nameof(Confirmed)];

    public string UnknownLinkTitle => texts[nameof(UnknownLinkTitle)];

    public string UnknownConfirmLink => texts[nameof(UnknownConfirmLink)];

    public string UnknownUnsubscribeLink => texts[nameof(UnknownUnsubscribeLink)];

    public string UnknownManageLink => texts[nameof(UnknownManageLink)];

    public string AlreadyConfirmedTitle => texts[nameof(AlreadyConfirmedTitle)];

    public string AlreadyConfirmed => texts[nameof(AlreadyConfirmed)];

    public string UsedTitle => texts[nameof(UsedTitle)];

    public string ExpiredTitle => texts[nameof(ExpiredTitle)];

    public string SignUpAgainLink => texts[nameof(SignUpAgainLink)];

    public string SignUpAgainAfterLink => texts[nameof(SignUpAgainAfterLink)];

    public string SignUpAgainFromForm => texts[nameof(SignUpAgainFromForm)];

    public string UnsubscribeTitle => texts[nameof(UnsubscribeTitle)];

    public string UnsubscribePrompt => texts[nameof(UnsubscribePrompt)];

    public string UnsubscribeButton => texts[nameof(UnsubscribeButton)];

    public string UnsubscribedTitle => texts[nameof(UnsubscribedTitle)];

    public string Unsubscribed => texts[nameof(Unsubscribed)];

    public string SignUpTitle => texts[nameof(SignUpTitle)];

    public string EmailLabel => texts[nameof(EmailLabel)];

    public string SignUpButton => texts[nameof(SignUpButton)];

    public string HoneypotLabel => texts[nameof(HoneypotLabel)];

    public string UnavailableTitle => texts[nameof(UnavailableTitle)];

    public string Unavailable => texts[nameof(Unavailable)];

    public static PageText For(HttpRequest request) => new(request.HttpContext.RequestServices.GetRequiredService<IStringLocalizer<Texts>>());

    /// <summary>A list's name in this language's quotation marks, or the fallback words.</summary>
    public string Named(string? listName, string fallback) => listName is null ? fallback : string.Format(Quote, listName);
}
