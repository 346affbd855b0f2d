using Microsoft.Extensions.Localization;
using MimeKit;
using MimeKit.Utils;
using RazorSlices;
using Subscriptions.Api.Localization;
using Subscriptions.Api.Pages;

namespace Subscriptions.Api.Mail;

/// <summary>
/// The mail a list may send once a subscription is confirmed (the list's <c>welcome</c> setting).
/// Like every mail after confirmation it can be left in one click: an unsubscribe link in the
/// body and RFC 8058 one-click headers.
/// </summary>
public static class WelcomeMail
{
    public static async Task<MimeMessage> ComposeAsync(
        IStringLocalizer<Texts> texts, MailboxAddress from, MailboxAddress to, string listName, string language, Uri unsubscribe, Uri preferences, DateTimeOffset date)
    {
        Languages.Use(language);
        var welcome = texts["MailWelcome", listName].Value;
        var leave = texts["MailLeave"].Value;
        var manage = texts["MailManage"].Value;
        var message = new MimeMessage
        {
            Subject = texts["MailWelcomeSubject", listName],
            MessageId = MimeUtils.GenerateMessageId(from.Domain),
            Date = date,
        };
        message.From.Add(from);
        message.To.Add(to);
        message.Headers.Add(HeaderId.ContentLanguage, language);
        message.Headers.Add(HeaderId.ListUnsubscribe, $"<{unsubscribe.AbsoluteUri}>");
        message.Headers.Add("List-Unsubscribe-Post", "List-Unsubscribe=One-Click");

        using var html = WelcomeMailHtml.Create(new WelcomeMailContent(language, welcome, leave, texts["MailLeaveLink"], unsubscribe, manage, texts["MailManageLink"], preferences));
        message.Body = new BodyBuilder
        {
            TextBody = $"""
                {welcome}

                {manage} {preferences}

                {leave} {unsubscribe}
                """,
            HtmlBody = await html.RenderAsync(HtmlEncoding.Encoder),
        }.ToMessageBody();
        return message;
    }
}
