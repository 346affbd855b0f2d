using System.Globalization;
using Microsoft.Extensions.Localization;
using MimeKit;
using MimeKit.Utils;
using RazorSlices;
using Subscriptions.Api.Localization;
using Subscriptions.Api.Pages;

namespace Subscriptions.Api.Mail;

/// <summary>
/// The double opt-in mail, and the one reminder of it. It carries nothing the signup request
/// wrote except the address it goes to: no name, no free text, so bots cannot use it to deliver
/// their words to strangers.
/// </summary>
public static class ConfirmationMail
{
    /// <param name="texts">The service's texts; the mail is written in <paramref name="language"/>.</param>
    public static async Task<MimeMessage> ComposeAsync(
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

        using var html = ConfirmationMailHtml.Create(new ConfirmationMailContent(language, request, button, link, notYou, validity));
        var body = new BodyBuilder
        {
            TextBody = $"""
                {request}

                {link}

                {notYou}
                {validity}
                """,
            HtmlBody = await html.RenderAsync(HtmlEncoding.Encoder),
        };
        message.Body = body.ToMessageBody();
        return message;
    }
}
