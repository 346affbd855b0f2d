using FluentValidation;
using FluentValidation.Results;
using Microsoft.Extensions.Localization;
using Subscriptions.Api.Kernel;
using Subscriptions.Api.Localization;

namespace Subscriptions.Api.Signup;

public sealed class SignupValidator : AbstractValidator<SignupInput>
{
    public const int MaxNameLength = 200;
    public const int MaxLists = 20;

    /// <summary>Error codes of the refusals the signups counter names apart from "invalid".</summary>
    public const string Disposable = "disposable", NoMailDomain = "no_mail_domain";

    public SignupValidator(SignupLists knownLists, IStringLocalizer<Texts> texts, DisposableDomains disposable, MailDomainCheck mailDomain)
    {
        // One message per field: the first rule that fails is the one the reader needs.
        RuleLevelCascadeMode = CascadeMode.Stop;

        RuleFor(x => x.Email)
            .NotEmpty().WithMessage(_ => texts["EmailRequired"])
            .Must(email => EmailAddress.TryNormalize(email, out _)).WithMessage(_ => texts["EmailInvalid"])
            .Must(email => !disposable.Refuses(email)).WithMessage(_ => texts["EmailDisposable"]).WithErrorCode(Disposable)
            // DNS only for an address that passed everything else, and only with Signup__CheckMx
            .MustAsync(mailDomain.MayReceiveMailAsync).WithMessage(_ => texts["EmailDomainNoMail"]).WithErrorCode(NoMailDomain)
            .OverridePropertyName("email");

        RuleFor(x => x.HasConsent)
            .Equal(true).WithMessage(_ => texts["ConsentRequired"])
            .OverridePropertyName("consent");

        RuleFor(x => x.Name)
            .MaximumLength(MaxNameLength).WithMessage(_ => texts["NameTooLong", MaxNameLength])
            .Must(name => InputRules.IsPlainText(name!)).WithMessage(_ => texts["NameNotPlain"])
            .When(x => x.Name is not null)
            .OverridePropertyName("name");

        RuleFor(x => x.Locale)
            .Must(locale => InputRules.IsLanguageTag(locale!)).WithMessage(_ => texts["LocaleInvalid"])
            .When(x => x.Locale is not null)
            .OverridePropertyName("locale");

        RuleFor(x => x.Lists)
            .Must(lists => lists.Count <= MaxLists).WithMessage(_ => texts["ListsTooMany", MaxLists])
            .Must(lists => lists.All(InputRules.IsListSlug)).WithMessage(_ => texts["ListsInvalid"])
            .OverridePropertyName("lists")
            // from the lists kept in memory: a query only for a name not seen before
            .CustomAsync(async (_, context, cancellationToken) =>
            {
                var slugs = context.InstanceToValidate.ListSlugs;
                var found = await knownLists.FindAsync(slugs, cancellationToken);
                if (found.Count < slugs.Length)
                {
                    var unknown = slugs.Except(found.Select(l => l.Slug), StringComparer.Ordinal);
                    context.AddFailure("lists", texts["ListUnknown", string.Join(", ", unknown)]);
                }
            });

        RuleFor(x => x.Source)
            .Must(source => InputRules.IsWebAddress(source!)).WithMessage(_ => texts["SourceInvalid"])
            .When(x => x.Source is not null)
            .OverridePropertyName("source");

        // the fields a campaign link's page passes on; what its URL alone carries is never refused (Attribution)
        Utm(x => x.UtmSource, Attribution.SourceField, texts);
        Utm(x => x.UtmMedium, Attribution.MediumField, texts);
        Utm(x => x.UtmCampaign, Attribution.CampaignField, texts);
    }

    void Utm(System.Linq.Expressions.Expression<Func<SignupInput, string?>> property, string field, IStringLocalizer<Texts> texts) =>
        RuleFor(property)
            .Must(value => value is null || Attribution.IsValid(value)).WithMessage(_ => texts["UtmInvalid", field, Attribution.MaxLength])
            .OverridePropertyName(field);

    /// <summary>The signups counter's outcome for a refused signup: the reason of an address refused for its domain, else invalid.</summary>
    public static string Outcome(ValidationResult result) =>
        result.Errors.Select(e => e.ErrorCode).FirstOrDefault(code => code is Disposable or NoMailDomain) ?? "invalid";
}
