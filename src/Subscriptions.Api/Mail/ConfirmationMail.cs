using System.Globalization;
using System.Net;
using Microsoft.Extensions.Localization;
using MimeKit;
using MimeKit.Utils;
using Subscriptions.Api.Localization;

namespace Subscriptions.Api.Mail;

/// <summary>
/// The double opt-in mail, and the one reminder of it. It carries nothing the signup request
/// wrote except the address it goes to: no name, no free text, so bots cannot use it to deliver
/// their words to strangers.
/// </summary>
public static class ConfirmationMail
{
    /// <param name="texts">The service's texts; the mail is written in <paramref name="language"/>.</param>
    public static MimeMessage Compose(
        IStringLocalizer<Texts> texts, MailboxAddress from, MailboxAddress to, string listName, string language, Uri link, TimeSpan validFor,
        DateTimeOffset date, bool reminder = false)
    {
        Languages.Use(language);
        // a date rather than a duration: "until Wednesday, 9 December 2026" needs no plural rules
        var validity = texts["MailValidUntil", (date + validFor).ToString("D", CultureInfo.GetCultureInfo(language))].Value;
        var request = texts[reminder ? "MailReminderRequest" : "MailConfirmRequest", listName].Value;
        var button = texts["MailConfirmButton"].Value;
        var notYou = texts["MailNotYou"].Value;

        var message = new MimeMessage
        {
            Subject = texts[reminder ? "MailReminderSubject" : "MailConfirmSubject", listName],
            MessageId = MimeUtils.GenerateMessageId(from.Domain),
            Date = date,
        };
        message.From.Add(from);
        message.To.Add(to);
        message.Headers.Add("Auto-Submitted", "auto-generated");
        message.Headers.Add(HeaderId.ContentLanguage, language);

        var body = new BodyBuilder
        {
            TextBody = $"""
                {request}

                {link}

                {notYou}
                {validity}
                """,
            HtmlBody = $"""
                <!doctype html>
                <html lang="{language}">
                <body style="font-family:system-ui,sans-serif;line-height:1.5;color:#1a1a1a">
                <p>{Html(request)}</p>
                <p><a href="{Html(link.AbsoluteUri)}" style="display:inline-block;padding:.6em 1.2em;background:#0b57d0;color:#fff;text-decoration:none;border-radius:.3em">{Html(button)}</a></p>
                <p style="font-size:.9em;color:#555">{Html(link.AbsoluteUri)}</p>
                <p>{Html(notYou)} {Html(validity)}</p>
                </body>
                </html>
                """,
        };
        message.Body = body.ToMessageBody();
        return message;
    }

    static string Html(string text) => WebUtility.HtmlEncode(text);
}
