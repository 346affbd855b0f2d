using System.Net;
using Microsoft.Extensions.Localization;
using MimeKit;
using MimeKit.Utils;
using Subscriptions.Api.Localization;

namespace Subscriptions.Api.Mail;

/// <summary>
/// The mail a list may send once a subscription is confirmed (the list's <c>welcome</c> setting).
/// Like every mail after confirmation it can be left in one click: an unsubscribe link in the
/// body and RFC 8058 one-click headers.
/// </summary>
public static class WelcomeMail
{
    public static MimeMessage Compose(
        IStringLocalizer<Texts> texts, MailboxAddress from, MailboxAddress to, string listName, string language, Uri unsubscribe, DateTimeOffset date)
    {
        Languages.Use(language);
        var welcome = texts["MailWelcome", listName].Value;
        var leave = texts["MailLeave"].Value;
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

        message.Body = new BodyBuilder
        {
            TextBody = $"""
                {welcome}

                {leave} {unsubscribe}
                """,
            HtmlBody = $"""
                <!doctype html>
                <html lang="{language}">
                <body style="font-family:system-ui,sans-serif;line-height:1.5;color:#1a1a1a">
                <p>{Html(welcome)}</p>
                <p style="font-size:.9em;color:#555">{Html(leave)} <a href="{Html(unsubscribe.AbsoluteUri)}">{Html(texts["MailLeaveLink"])}</a></p>
                </body>
                </html>
                """,
        }.ToMessageBody();
        return message;
    }

    static string Html(string text) => WebUtility.HtmlEncode(text);
}
