using System.Net;
using Microsoft.Net.Http.Headers;
using MimeKit;
using MimeKit.Utils;

namespace Subscriptions.Api.Mail;

/// <summary>
/// The double opt-in mail, and the one reminder of it. It carries nothing the signup request
/// wrote except the address it goes to: no name, no free text, so bots cannot use it to deliver
/// their words to strangers.
/// </summary>
public static class ConfirmationMail
{
    public const string DefaultLanguage = "en";

    sealed record Texts(
        string Subject, string Request, string Button, string NotYou, Func<int, string> Days, Func<int, string> Hours, string Validity,
        string ReminderSubject, string ReminderRequest);

    static readonly Dictionary<string, Texts> Languages = new(StringComparer.OrdinalIgnoreCase)
    {
        ["en"] = new(
            "Confirm your subscription to {0}",
            "Please confirm that you want to receive {0}.",
            "Confirm subscription",
            "If you did not sign up, ignore this mail: without your confirmation you will not receive anything from us.",
            n => n == 1 ? "1 day" : $"{n} days",
            n => n == 1 ? "1 hour" : $"{n} hours",
            "The link is valid for {0}.",
            "Reminder: confirm your subscription to {0}",
            "You signed up for {0} a few days ago but have not confirmed yet. Please confirm that you want to receive it."),
        ["de"] = new(
            "Bitte bestätigen Sie Ihr Abonnement: {0}",
            "Bitte bestätigen Sie, dass Sie {0} erhalten möchten.",
            "Abonnement bestätigen",
            "Wenn Sie sich nicht angemeldet haben, ignorieren Sie diese E-Mail: Ohne Ihre Bestätigung erhalten Sie nichts von uns.",
            n => n == 1 ? "1 Tag" : $"{n} Tage",
            n => n == 1 ? "1 Stunde" : $"{n} Stunden",
            "Der Link ist {0} gültig.",
            "Erinnerung: Bitte bestätigen Sie Ihr Abonnement: {0}",
            "Sie haben sich vor einigen Tagen für {0} angemeldet, das Abonnement aber noch nicht bestätigt. Bitte bestätigen Sie, dass Sie es erhalten möchten."),
        ["fr"] = new(
            "Confirmez votre abonnement : {0}",
            "Merci de confirmer que vous souhaitez recevoir {0}.",
            "Confirmer l’abonnement",
            "Si vous ne vous êtes pas inscrit, ignorez ce message : sans votre confirmation, vous ne recevrez rien de notre part.",
            n => n == 1 ? "1 jour" : $"{n} jours",
            n => n == 1 ? "1 heure" : $"{n} heures",
            "Le lien est valable {0}.",
            "Rappel : confirmez votre abonnement : {0}",
            "Vous vous êtes inscrit à {0} il y a quelques jours, mais vous n’avez pas encore confirmé. Merci de confirmer que vous souhaitez le recevoir."),
    };

    /// <summary>
    /// The mail's language: the signup's locale if we write that language, else the browser's
    /// Accept-Language preference, else the list's default, else English.
    /// </summary>
    public static string ChooseLanguage(string? locale, IEnumerable<StringWithQualityHeaderValue> acceptLanguage, string? listDefault)
    {
        var candidates = new[] { locale }
            .Concat(acceptLanguage.Where(l => l.Quality is not 0).OrderByDescending(l => l.Quality ?? 1).Select(l => l.Value.Value))
            .Append(listDefault);
        foreach (var candidate in candidates)
        {
            var language = candidate?.Split('-')[0];
            if (language is not null && Languages.ContainsKey(language))
            {
                return language.ToLowerInvariant();
            }
        }

        return DefaultLanguage;
    }

    public static MimeMessage Compose(
        MailboxAddress from, MailboxAddress to, string listName, string language, Uri link, TimeSpan validFor, DateTimeOffset date,
        bool reminder = false)
    {
        var texts = Languages.GetValueOrDefault(language) ?? Languages[DefaultLanguage];
        var validity = string.Format(texts.Validity, validFor.TotalDays >= 1 ? texts.Days((int)validFor.TotalDays) : texts.Hours(Math.Max(1, (int)validFor.TotalHours)));
        var request = string.Format(reminder ? texts.ReminderRequest : texts.Request, listName);

        var message = new MimeMessage
        {
            Subject = string.Format(reminder ? texts.ReminderSubject : texts.Subject, listName),
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

                {texts.NotYou}
                {validity}
                """,
            HtmlBody = $"""
                <!doctype html>
                <html lang="{language}">
                <body style="font-family:system-ui,sans-serif;line-height:1.5;color:#1a1a1a">
                <p>{Html(request)}</p>
                <p><a href="{Html(link.AbsoluteUri)}" style="display:inline-block;padding:.6em 1.2em;background:#0b57d0;color:#fff;text-decoration:none;border-radius:.3em">{Html(texts.Button)}</a></p>
                <p style="font-size:.9em;color:#555">{Html(link.AbsoluteUri)}</p>
                <p>{Html(texts.NotYou)} {Html(validity)}</p>
                </body>
                </html>
                """,
        };
        message.Body = body.ToMessageBody();
        return message;
    }

    static string Html(string text) => WebUtility.HtmlEncode(text);
}
