using FluentValidation;
using Subscriptions.Api.Localization;
using Subscriptions.Api.Kernel;

namespace Subscriptions.Api.Admin;

public sealed class ListInputValidator : AbstractValidator<ListEndpoints.ListInput>
{
    public const string Creating = "creating";

    public ListInputValidator()
    {
        RuleLevelCascadeMode = CascadeMode.Stop;

        RuleSet(Creating, () => RuleFor(x => x.Slug)
            .NotEmpty().WithMessage("Give the list a slug.")
            .Must(slug => InputRules.IsListSlug(slug!)).WithMessage("A slug is 1-63 lower-case letters, digits and hyphens.")
            .OverridePropertyName("slug"));

        RuleFor(x => x.Name).ListName().OverridePropertyName("name");

        RuleFor(x => x.SenderName)
            .MaximumLength(200).Must(v => InputRules.IsPlainText(v!)).WithMessage("The sender name is plain text of at most 200 characters.")
            .When(x => !string.IsNullOrWhiteSpace(x.SenderName))
            .OverridePropertyName("senderName");

        RuleFor(x => x.SenderEmail)
            .Must(v => EmailAddress.TryNormalize(v, out _)).WithMessage("The sender must be a valid address.")
            .When(x => !string.IsNullOrWhiteSpace(x.SenderEmail))
            .OverridePropertyName("senderEmail");

        RuleFor(x => x.ThankYouUrl).Must(InputRules.IsRedirectTarget!).WithMessage(RedirectMessage)
            .When(x => !string.IsNullOrWhiteSpace(x.ThankYouUrl)).OverridePropertyName("thankYouUrl");
        RuleFor(x => x.ConfirmedUrl).Must(InputRules.IsRedirectTarget!).WithMessage(RedirectMessage)
            .When(x => !string.IsNullOrWhiteSpace(x.ConfirmedUrl)).OverridePropertyName("confirmedUrl");
        RuleFor(x => x.ErrorUrl).Must(InputRules.IsRedirectTarget!).WithMessage(RedirectMessage)
            .When(x => !string.IsNullOrWhiteSpace(x.ErrorUrl)).OverridePropertyName("errorUrl");

        RuleFor(x => x.AllowedOrigins)
            .Must(o => o!.Length <= 50).WithMessage("At most 50 allowed origins.")
            .Must(o => o!.All(origin => origin is not null && InputRules.IsOrigin(origin))).WithMessage("An origin is scheme://host[:port] with no path, https (http only for localhost).")
            .When(x => x.AllowedOrigins is not null)
            .OverridePropertyName("allowedOrigins");

        RuleFor(x => x.ConsentText).ConsentText().OverridePropertyName("consentText");

        RuleFor(x => x.ConsentTextVersion)
            .NotEmpty().WithMessage("Give the consent text a version.")
            .MaximumLength(50).Must(v => InputRules.IsPlainText(v!)).WithMessage("The version is plain text of at most 50 characters.")
            .OverridePropertyName("consentTextVersion");

        RuleFor(x => x.DefaultLocale)
            .Must(l => InputRules.IsLanguageTag(l!))
            .WithMessage("The default locale is a BCP 47 tag, like en or de-CH.")
            .When(x => x.DefaultLocale is not null)
            .OverridePropertyName("defaultLocale");

        RuleFor(x => x.Translations)
            .Custom((translations, context) => CheckTranslations(translations!, context.InstanceToValidate.DefaultLocale, context))
            .When(x => x.Translations is not null);
    }

    static readonly InlineValidator<ListTranslation> TranslationRules = new()
    {
        v => v.RuleFor(t => t.Name).Cascade(CascadeMode.Stop).ListName().OverridePropertyName("name"),
        v => v.RuleFor(t => t.ConsentText).Cascade(CascadeMode.Stop).ConsentText().OverridePropertyName("consentText"),
    };

    /// <summary>
    /// Keys are languages the service speaks, each once, other than the list's own (its name and
    /// consent text are that language's wording); values follow the rules of the list's own
    /// name and consent text. A key that is no language is not repeated back.
    /// </summary>
    static void CheckTranslations(
        Dictionary<string, ListTranslation?> translations, string? defaultLocale, ValidationContext<ListEndpoints.ListInput> context)
    {
        var defaultLanguage = Languages.OfListDefault(defaultLocale);
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (var (key, translation) in translations)
        {
            if (!Languages.Supported.Contains(key))
            {
                context.AddFailure("translations", $"Translations are keyed by a language the service speaks: {string.Join(", ", Languages.Supported.Order(StringComparer.Ordinal))}.");
                return;
            }

            var language = key.ToLowerInvariant();
            var field = $"translations.{language}";
            if (!seen.Add(language))
            {
                context.AddFailure(field, $"{language} is given more than once.");
            }
            else if (language == defaultLanguage)
            {
                context.AddFailure(field, $"name and consentText are the list's {language} wording (its defaultLocale): a translation is for another language.");
            }
            else if (translation is null)
            {
                context.AddFailure(field, "A translation has a name and a consentText.");
            }
            else
            {
                foreach (var failure in TranslationRules.Validate(translation).Errors)
                {
                    context.AddFailure($"{field}.{failure.PropertyName}", failure.ErrorMessage);
                }
            }
        }
    }

    const string RedirectMessage = "Redirect URLs are absolute https URLs (http only for localhost).";
}

/// <summary>The rules of a list's wording, the same for its own name and consent text and for their translations.</summary>
public static class ListTextRules
{
    public const int MaxNameLength = 200;
    public const int MaxConsentTextLength = 2000;

    public static IRuleBuilderOptions<T, string> ListName<T>(this IRuleBuilder<T, string> rule) => rule
        .NotEmpty().WithMessage("Give the list a name.")
        .MaximumLength(MaxNameLength).Must(v => InputRules.IsPlainText(v)).WithMessage($"The name is plain text of at most {MaxNameLength} characters.");

    public static IRuleBuilderOptions<T, string> ConsentText<T>(this IRuleBuilder<T, string> rule) => rule
        .NotEmpty().WithMessage("Give the consent text the signup form shows.")
        .MaximumLength(MaxConsentTextLength).WithMessage($"The consent text is at most {MaxConsentTextLength} characters.")
        // line breaks are the editor's; other control characters are no text (and PostgreSQL refuses NUL)
        .Must(t => InputRules.IsPlainText(t.Replace('\r', ' ').Replace('\n', ' ').Replace('\t', ' ')))
        .WithMessage("The consent text is text: line breaks and tabs, but no other control characters.");
}
