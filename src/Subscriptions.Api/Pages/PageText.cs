using Subscriptions.Api.Mail;

namespace Subscriptions.Api.Pages;

/// <summary>
/// The words of the hosted pages, in the languages the mail speaks. A page takes the reader's
/// browser language (Accept-Language), English otherwise. {0} is a list's name, already quoted.
/// </summary>
public sealed record PageText(
    string Language,
    string Quote,
    string OurNewsletter,
    string ThisNewsletter,
    string CheckInboxTitle,
    string CheckInbox,
    string FormErrorsTitle,
    string FormErrorsIntro,
    string FormErrorsOutro,
    string ConfirmTitle,
    string ConfirmPrompt,
    string ConfirmButton,
    string ConfirmedTitle,
    string Confirmed,
    string UnknownLinkTitle,
    string UnknownConfirmLink,
    string UnknownUnsubscribeLink,
    string AlreadyConfirmedTitle,
    string AlreadyConfirmed,
    string UsedTitle,
    string ExpiredTitle,
    string SignUpAgainLink,
    string SignUpAgainAfterLink,
    string SignUpAgainFromForm,
    string UnsubscribeTitle,
    string UnsubscribePrompt,
    string UnsubscribeButton,
    string UnsubscribedTitle,
    string Unsubscribed,
    string SignUpTitle,
    string EmailLabel,
    string SignUpButton,
    string UnavailableTitle,
    string Unavailable)
{
    static readonly Dictionary<string, PageText> Texts = new(StringComparer.OrdinalIgnoreCase)
    {
        ["en"] = new("en", "“{0}”", "our newsletter", "this newsletter",
            "Check your inbox", "Thank you for signing up to {0}. We sent you a mail: open it and press Confirm to start receiving it.",
            "Please check the form", "Your signup was not saved:", "Go back, correct the form and send it again.",
            "Confirm your subscription", "Press the button to start receiving {0}.", "Confirm",
            "You're subscribed", "Thank you: your subscription to {0} is confirmed.",
            "This link is not known",
            "We could not find this confirmation link. Please sign up again from the newsletter form to receive a new one.",
            "We could not find this unsubscribe link. Use the link in the newsletter's latest mail.",
            "Already confirmed", "Your subscription to {0} is confirmed. There is nothing more to do.",
            "This link was already used", "This link has expired",
            "Sign up again", " to receive a new confirmation mail.",
            "Sign up again from the newsletter form to receive a new confirmation mail.",
            "Unsubscribe", "Press the button to stop receiving {0}.", "Unsubscribe",
            "You're unsubscribed", "You will not receive this newsletter any more.",
            "Sign up to {0}", "Email address", "Sign up",
            "Please try again in a moment", "We cannot complete this just now. Please try again in a few seconds."),
        ["de"] = new("de", "„{0}“", "unseren Newsletter", "diesen Newsletter",
            "Bitte prüfen Sie Ihr Postfach", "Danke für Ihre Anmeldung zu {0}. Wir haben Ihnen eine E-Mail geschickt: Öffnen Sie sie und klicken Sie auf „Bestätigen“.",
            "Bitte prüfen Sie das Formular", "Ihre Anmeldung wurde nicht gespeichert:", "Gehen Sie zurück, korrigieren Sie das Formular und senden Sie es erneut.",
            "Abonnement bestätigen", "Klicken Sie auf die Schaltfläche, um {0} zu erhalten.", "Bestätigen",
            "Sie sind angemeldet", "Danke: Ihr Abonnement von {0} ist bestätigt.",
            "Dieser Link ist unbekannt",
            "Wir konnten diesen Bestätigungslink nicht finden. Bitte melden Sie sich über das Newsletter-Formular erneut an, um einen neuen zu erhalten.",
            "Wir konnten diesen Abmeldelink nicht finden. Verwenden Sie den Link in der neuesten Ausgabe des Newsletters.",
            "Bereits bestätigt", "Ihr Abonnement von {0} ist bestätigt. Sie müssen nichts weiter tun.",
            "Dieser Link wurde bereits verwendet", "Dieser Link ist abgelaufen",
            "Melden Sie sich erneut an", ", um eine neue Bestätigungs-E-Mail zu erhalten.",
            "Melden Sie sich über das Newsletter-Formular erneut an, um eine neue Bestätigungs-E-Mail zu erhalten.",
            "Abmelden", "Klicken Sie auf die Schaltfläche, um {0} nicht mehr zu erhalten.", "Abmelden",
            "Sie sind abgemeldet", "Sie erhalten diesen Newsletter nicht mehr.",
            "Anmeldung: {0}", "E-Mail-Adresse", "Anmelden",
            "Bitte versuchen Sie es gleich noch einmal", "Wir können das gerade nicht erledigen. Bitte versuchen Sie es in ein paar Sekunden erneut."),
        ["fr"] = new("fr", "« {0} »", "notre newsletter", "cette newsletter",
            "Consultez votre boîte de réception", "Merci de votre inscription à {0}. Nous vous avons envoyé un e-mail : ouvrez-le et cliquez sur « Confirmer ».",
            "Veuillez vérifier le formulaire", "Votre inscription n’a pas été enregistrée :", "Revenez en arrière, corrigez le formulaire et envoyez-le de nouveau.",
            "Confirmez votre abonnement", "Cliquez sur le bouton pour commencer à recevoir {0}.", "Confirmer",
            "Vous êtes abonné", "Merci : votre abonnement à {0} est confirmé.",
            "Ce lien est inconnu",
            "Nous n’avons pas trouvé ce lien de confirmation. Inscrivez-vous de nouveau depuis le formulaire de la newsletter pour en recevoir un nouveau.",
            "Nous n’avons pas trouvé ce lien de désabonnement. Utilisez le lien du dernier e-mail de la newsletter.",
            "Déjà confirmé", "Votre abonnement à {0} est confirmé. Vous n’avez rien d’autre à faire.",
            "Ce lien a déjà été utilisé", "Ce lien a expiré",
            "Inscrivez-vous de nouveau", " pour recevoir un nouvel e-mail de confirmation.",
            "Inscrivez-vous de nouveau depuis le formulaire de la newsletter pour recevoir un nouvel e-mail de confirmation.",
            "Se désabonner", "Cliquez sur le bouton pour ne plus recevoir {0}.", "Se désabonner",
            "Vous êtes désabonné", "Vous ne recevrez plus cette newsletter.",
            "Inscription : {0}", "Adresse e-mail", "S’inscrire",
            "Veuillez réessayer dans un instant", "Nous ne pouvons pas traiter votre demande pour le moment. Veuillez réessayer dans quelques secondes."),
    };

    public static PageText For(HttpRequest request) =>
        Texts[ConfirmationMail.ChooseLanguage(null, request.GetTypedHeaders().AcceptLanguage, null)];

    /// <summary>A list's name in this language's quotation marks, or the fallback words.</summary>
    public string Named(string? listName, string fallback) => listName is null ? fallback : string.Format(Quote, listName);
}
