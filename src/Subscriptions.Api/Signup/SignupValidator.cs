using System.Buffers;
using System.Text;
using System.Text.RegularExpressions;
using FluentValidation;
using Microsoft.Extensions.Localization;
using Subscriptions.Api.Localization;

namespace Subscriptions.Api.Signup;

public sealed partial class SignupValidator : AbstractValidator<SignupInput>
{
    public const int MaxNameLength = 200;
    public const int MaxSourceLength = 2048;
    public const int MaxLists = 20;

    public SignupValidator(SignupLists knownLists, IStringLocalizer<Texts> texts)
    {
        // One message per field: the first rule that fails is the one the reader needs.
        RuleLevelCascadeMode = CascadeMode.Stop;

        RuleFor(x => x.Email)
            .NotEmpty().WithMessage(_ => texts["EmailRequired"])
            .Must(email => EmailAddress.TryNormalize(email, out _)).WithMessage(_ => texts["EmailInvalid"])
            .OverridePropertyName("email");

        RuleFor(x => x.HasConsent)
            .Equal(true).WithMessage(_ => texts["ConsentRequired"])
            .OverridePropertyName("consent");

        RuleFor(x => x.Name)
            .MaximumLength(MaxNameLength).WithMessage(_ => texts["NameTooLong", MaxNameLength])
            .Must(name => IsPlainText(name!)).WithMessage(_ => texts["NameNotPlain"])
            .When(x => x.Name is not null)
            .OverridePropertyName("name");

        RuleFor(x => x.Locale)
            .Must(locale => IsLanguageTag(locale!)).WithMessage(_ => texts["LocaleInvalid"])
            .When(x => x.Locale is not null)
            .OverridePropertyName("locale");

        RuleFor(x => x.Lists)
            .Must(lists => lists.Count <= MaxLists).WithMessage(_ => texts["ListsTooMany", MaxLists])
            .Must(lists => lists.All(IsListSlug)).WithMessage(_ => texts["ListsInvalid"])
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
            .Must(source => IsWebAddress(source!)).WithMessage(_ => texts["SourceInvalid"])
            .When(x => x.Source is not null)
            .OverridePropertyName("source");
    }

    /// <summary>Well-formed UTF-16 (no lone surrogates, which PostgreSQL cannot store) without control characters.</summary>
    public static bool IsPlainText(string value)
    {
        var rest = value.AsSpan();
        while (!rest.IsEmpty)
        {
            if (Rune.DecodeFromUtf16(rest, out var rune, out var consumed) != OperationStatus.Done || Rune.IsControl(rune))
            {
                return false;
            }

            rest = rest[consumed..];
        }

        return true;
    }

    public static bool IsWebAddress(string value) =>
        value.Length <= MaxSourceLength
        && IsPlainText(value)
        && Uri.TryCreate(value, UriKind.Absolute, out var uri)
        && (uri.Scheme == Uri.UriSchemeHttps || uri.Scheme == Uri.UriSchemeHttp);

    public static bool IsLanguageTag(string value) => LanguageTag().IsMatch(value);

    public static bool IsListSlug(string value) => ListSlug().IsMatch(value);

    /// <summary>Lower-cases the language, title-cases a script and upper-cases a region: en-us → en-US.</summary>
    public static string CanonicalLocale(string tag)
    {
        var parts = tag.Split('-');
        parts[0] = parts[0].ToLowerInvariant();
        for (var i = 1; i < parts.Length; i++)
        {
            if (parts[i - 1].Length == 1)
            {
                // an extension or private-use singleton: the rest keeps its case
                break;
            }

            parts[i] = parts[i].Length switch
            {
                2 => parts[i].ToUpperInvariant(),
                4 when char.IsAsciiLetter(parts[i][0]) => char.ToUpperInvariant(parts[i][0]) + parts[i][1..].ToLowerInvariant(),
                _ => parts[i].ToLowerInvariant(),
            };
        }

        return string.Join('-', parts);
    }

    // RFC 5646 well-formed language tags (grandfathered tags aside), at most 35 characters.
    [GeneratedRegex(@"^(?=.{2,35}\z)[a-zA-Z]{2,3}(-[a-zA-Z]{3}){0,3}(-[a-zA-Z]{4})?(-([a-zA-Z]{2}|[0-9]{3}))?(-([a-zA-Z0-9]{5,8}|[0-9][a-zA-Z0-9]{3}))*(-[0-9a-wyzA-WYZ](-[a-zA-Z0-9]{2,8})+)*(-x(-[a-zA-Z0-9]{1,8})+)?\z")]
    private static partial Regex LanguageTag();

    [GeneratedRegex(@"^[a-z0-9][a-z0-9-]{0,62}\z")]
    private static partial Regex ListSlug();
}
