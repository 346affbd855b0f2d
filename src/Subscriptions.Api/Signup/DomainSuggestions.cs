using System.Collections.Frozen;
using System.Globalization;
using System.Text;
using F23.StringSimilarity;
using Microsoft.Extensions.Options;
using Subscriptions.Api.Kernel;

namespace Subscriptions.Api.Signup;

public sealed class DomainSuggestionOptions
{
    public const string Section = "Signup";

    /// <summary>The operator's own common mail domains, besides the shipped list (Signup/Data/common-domains.txt).</summary>
    public string[] CommonDomains { get; set; } = [];
}

/// <summary>
/// "Did you mean ann@gmail.com?" for an address typed at a domain one edit away from a common
/// mail domain. Only a hint: the signup is accepted as typed either way. It depends on nothing
/// but the typed address, so it tells nobody whether an address is subscribed.
/// </summary>
/// <remarks>
/// One edit is the optimal string alignment distance (Damerau–Levenshtein restricted to edits
/// that do not overlap) of 1: a letter left out, doubled, swapped with its neighbour or hit
/// next to it, which covers what the measured typos are (gmial, hotmial, outlok, yahoo.co,
/// gmail.con). F23.StringSimilarity computes it; plain Levenshtein (Quickenshtein) counts a swap
/// as two. Two edits would also reach real domains that nobody typed by mistake.
/// </remarks>
public sealed class DomainSuggestions
{
    // A label this short is one edit from other real names (gmx/gmc, web/wed, qq/q): an edit
    // inside it is more often someone else's domain than a typo. Its top-level domain still counts.
    const int MinimumEditedLabelLength = 4;

    static readonly IdnMapping Idn = new() { UseStd3AsciiRules = true, AllowUnassigned = false };
    static readonly OptimalStringAlignment Alignment = new();

    static readonly Lazy<string[]> Shipped = new(() =>
    {
        using var stream = typeof(DomainSuggestions).Assembly.GetManifestResourceStream("Subscriptions.Api.Signup.Data.common-domains.txt")!;
        using var reader = new StreamReader(stream, Encoding.UTF8);
        return [.. reader.ReadToEnd().Split('\n').Select(line => line.Split('#')[0].Trim()).Where(line => line.Length > 0)];
    });

    // Unicode forms (what a reader reads and types), in the order that breaks ties.
    readonly string[] ordered;
    readonly FrozenSet<string> known;

    public DomainSuggestions(IEnumerable<string> additions)
    {
        ordered = [.. Shipped.Value.Concat(additions).Select(d => ToUnicode(d) ?? throw new ArgumentException($"'{d}' is not a mail domain.", nameof(additions))).Distinct(StringComparer.Ordinal)];
        known = ordered.ToFrozenSet(StringComparer.Ordinal);
    }

    /// <summary>Whether a configured domain is one this class can use: a valid mail domain, in ASCII or Unicode.</summary>
    public static bool IsMailDomain(string domain) => ToUnicode(domain) is not null;

    /// <summary>The address with the common domain it was probably meant to have, or null when it is fine or not an address.</summary>
    public string? Suggest(string? typed)
    {
        if (!EmailAddress.TryNormalize(typed, out var normalized))
        {
            return null;
        }

        var domain = Idn.GetUnicode(normalized[(normalized.LastIndexOf('@') + 1)..]);
        if (known.Contains(domain))
        {
            return null;
        }

        foreach (var candidate in ordered)
        {
            if (Math.Abs(candidate.Length - domain.Length) <= 1
                && Alignment.Distance(domain, candidate) == 1
                && !IsLikelyAnotherDomain(domain, candidate))
            {
                var asTyped = typed!.Trim().Normalize(NormalizationForm.FormC);
                return $"{asTyped[..asTyped.LastIndexOf('@')]}@{candidate}";
            }
        }

        return null;
    }

    // One edit from a listed domain, yet more likely a real domain of its own: an edit inside a
    // short name, or one country code for another (yahoo.cz, yahoo.se, live.cn, posteo.se, mail.be:
    // the big providers have a domain in most countries, and the list cannot hold them all). An
    // edit that makes no country code (gmx.ed, orange.rf) or loses a letter of .com (yahoo.co) is a typo.
    static bool IsLikelyAnotherDomain(string typed, string candidate)
    {
        var typedLabels = typed.Split('.');
        var candidateLabels = candidate.Split('.');
        if (typedLabels.Length != candidateLabels.Length)
        {
            return false; // a dot added, lost or swapped: gmailc.om
        }

        for (var i = 0; i < typedLabels.Length - 1; i++)
        {
            if (typedLabels[i] != candidateLabels[i])
            {
                return Math.Min(typedLabels[i].Length, candidateLabels[i].Length) < MinimumEditedLabelLength;
            }
        }

        var (typedTop, candidateTop) = (typedLabels[^1], candidateLabels[^1]);
        return typedTop.Length == 2 && candidateTop.Length == 2 && CountryCodes.Value.Contains(typedTop);
    }

    // The ISO 3166 codes the runtime's ICU knows, which are the country-code top-level domains
    // (but uk, which is GB): asked once for each of the 676 pairs of letters.
    static readonly Lazy<FrozenSet<string>> CountryCodes = new(() =>
    {
        var codes = new List<string> { "uk", "eu" };
        for (var first = 'a'; first <= 'z'; first++)
        {
            for (var second = 'a'; second <= 'z'; second++)
            {
                var code = string.Concat(first, second);
                try
                {
                    _ = new RegionInfo(code);
                    codes.Add(code);
                }
                catch (ArgumentException)
                {
                    // not a country
                }
            }
        }

        return codes.ToFrozenSet(StringComparer.Ordinal);
    });

    static string? ToUnicode(string domain) =>
        EmailAddress.TryNormalize($"a@{domain.Trim()}", out var address) ? Idn.GetUnicode(address[2..]) : null;
}

public static class DomainSuggestionsExtensions
{
    public static IServiceCollection AddDomainSuggestions(this IServiceCollection services)
    {
        services.AddOptions<DomainSuggestionOptions>()
            .BindConfiguration(DomainSuggestionOptions.Section)
            .Validate(o => o.CommonDomains.All(DomainSuggestions.IsMailDomain),
                "Signup__CommonDomains must hold mail domains only, such as mail.example.")
            .ValidateOnStart();
        return services.AddSingleton(provider =>
            new DomainSuggestions(provider.GetRequiredService<IOptions<DomainSuggestionOptions>>().Value.CommonDomains));
    }
}
