using System.Net;
using MimeKit;
using MimeKit.Utils;

namespace Subscriptions.Api.Mail;

/// <summary>
/// The mail a list may send once a subscription is confirmed (the list's <c>welcome</c> setting).
/// Like every mail after confirmation it can be left in one click: an unsubscribe link in the
/// body and RFC 8058 one-click headers.
/// </summary>
public static class WelcomeMail
{
    sealed record Texts(string Subject, string Welcome, string Leave, string LeaveLink);

    static readonly Dictionary<string, Texts> Languages = new(StringComparer.OrdinalIgnoreCase)
    {
        ["en"] = new("Welcome to {0}", "Thank you for confirming: from now on you will receive {0}.",
            "You can unsubscribe at any time:", "Unsubscribe"),
        ["de"] = new("Willkommen bei {0}", "Danke für Ihre Bestätigung: Ab jetzt erhalten Sie {0}.",
            "Sie können sich jederzeit abmelden:", "Abmelden"),
        ["fr"] = new("Bienvenue : {0}", "Merci de votre confirmation : vous recevrez désormais {0}.",
            "Vous pouvez vous désabonner à tout moment :", "Se désabonner"),
    };

    public static MimeMessage Compose(MailboxAddress from, MailboxAddress to, string listName, string language, Uri unsubscribe, DateTimeOffset date)
    {
        var texts = Languages.GetValueOrDefault(language) ?? Languages[ConfirmationMail.DefaultLanguage];
        var welcome = string.Format(texts.Welcome, listName);
        var message = new MimeMessage
        {
            Subject = string.Format(texts.Subject, listName),
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

                {texts.Leave} {unsubscribe}
                """,
            HtmlBody = $"""
                <!doctype html>
                <html lang="{language}">
                <body style="font-family:system-ui,sans-serif;line-height:1.5;color:#1a1a1a">
                <p>{Html(welcome)}</p>
                <p style="font-size:.9em;color:#555">{Html(texts.Leave)} <a href="{Html(unsubscribe.AbsoluteUri)}">{Html(texts.LeaveLink)}</a></p>
                </body>
                </html>
                """,
        }.ToMessageBody();
        return message;
    }

    static string Html(string text) => WebUtility.HtmlEncode(text);
}
