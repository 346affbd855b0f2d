using FluentValidation;
using Subscriptions.Api.Signup;

namespace Subscriptions.Api.Admin;

public sealed class ListInputValidator : AbstractValidator<ListEndpoints.ListInput>
{
    public const string Creating = "creating";
    const int MaxUrlLength = 2048;

    public ListInputValidator()
    {
        RuleLevelCascadeMode = CascadeMode.Stop;

        RuleSet(Creating, () => RuleFor(x => x.Slug)
            .NotEmpty().WithMessage("Give the list a slug.")
            .Must(slug => SignupValidator.IsListSlug(slug!)).WithMessage("A slug is 1-63 lower-case letters, digits and hyphens.")
            .OverridePropertyName("slug"));

        RuleFor(x => x.Name)
            .NotEmpty().WithMessage("Give the list a name.")
            .MaximumLength(200).Must(v => SignupValidator.IsPlainText(v!)).WithMessage("The name is plain text of at most 200 characters.")
            .OverridePropertyName("name");

        RuleFor(x => x.SenderName)
            .MaximumLength(200).Must(v => SignupValidator.IsPlainText(v!)).WithMessage("The sender name is plain text of at most 200 characters.")
            .When(x => !string.IsNullOrWhiteSpace(x.SenderName))
            .OverridePropertyName("senderName");

        RuleFor(x => x.SenderEmail)
            .Must(v => EmailAddress.TryNormalize(v, out _)).WithMessage("The sender must be a valid address.")
            .When(x => !string.IsNullOrWhiteSpace(x.SenderEmail))
            .OverridePropertyName("senderEmail");

        RuleFor(x => x.ThankYouUrl).Must(IsRedirectTarget!).WithMessage(RedirectMessage)
            .When(x => !string.IsNullOrWhiteSpace(x.ThankYouUrl)).OverridePropertyName("thankYouUrl");
        RuleFor(x => x.ConfirmedUrl).Must(IsRedirectTarget!).WithMessage(RedirectMessage)
            .When(x => !string.IsNullOrWhiteSpace(x.ConfirmedUrl)).OverridePropertyName("confirmedUrl");
        RuleFor(x => x.ErrorUrl).Must(IsRedirectTarget!).WithMessage(RedirectMessage)
            .When(x => !string.IsNullOrWhiteSpace(x.ErrorUrl)).OverridePropertyName("errorUrl");

        RuleFor(x => x.AllowedOrigins)
            .Must(o => o!.Length <= 50).WithMessage("At most 50 allowed origins.")
            .Must(o => o!.All(origin => origin is not null && IsOrigin(origin))).WithMessage("An origin is scheme://host[:port] with no path, https (http only for localhost).")
            .When(x => x.AllowedOrigins is not null)
            .OverridePropertyName("allowedOrigins");

        RuleFor(x => x.ConsentText)
            .NotEmpty().WithMessage("Give the consent text the signup form shows.")
            .MaximumLength(2000).WithMessage("The consent text is at most 2000 characters.")
            // line breaks are the editor's; other control characters are no text (and PostgreSQL refuses NUL)
            .Must(t => SignupValidator.IsPlainText(t.Replace('\r', ' ').Replace('\n', ' ').Replace('\t', ' ')))
            .WithMessage("The consent text is text: line breaks and tabs, but no other control characters.")
            .OverridePropertyName("consentText");

        RuleFor(x => x.ConsentTextVersion)
            .NotEmpty().WithMessage("Give the consent text a version.")
            .MaximumLength(50).Must(v => SignupValidator.IsPlainText(v!)).WithMessage("The version is plain text of at most 50 characters.")
            .OverridePropertyName("consentTextVersion");

        RuleFor(x => x.DefaultLocale)
            .Must(l => SignupValidator.IsLanguageTag(l!))
            .WithMessage("The default locale is a BCP 47 tag, like en or de-CH.")
            .When(x => x.DefaultLocale is not null)
            .OverridePropertyName("defaultLocale");
    }

    const string RedirectMessage = "Redirect URLs are absolute https URLs (http only for localhost).";

    /// <summary>Absolute https URL (http for localhost), so 303s only ever go where an editor said.</summary>
    public static bool IsRedirectTarget(string value) =>
        value.Length <= MaxUrlLength
        && SignupValidator.IsPlainText(value)
        && Uri.TryCreate(value, UriKind.Absolute, out var uri)
        && (uri.Scheme == Uri.UriSchemeHttps || (uri.Scheme == Uri.UriSchemeHttp && uri.IsLoopback))
        && string.IsNullOrEmpty(uri.UserInfo);

    public static bool IsOrigin(string value) =>
        IsRedirectTarget(value)
        && Uri.TryCreate(value, UriKind.Absolute, out var uri)
        && uri.AbsolutePath == "/" && string.IsNullOrEmpty(uri.Query) && string.IsNullOrEmpty(uri.Fragment);
}
