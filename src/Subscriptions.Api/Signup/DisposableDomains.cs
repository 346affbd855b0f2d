using System.Collections.Frozen;
using System.Globalization;
using System.Text;
using Microsoft.Extensions.Options;
using Subscriptions.Api.Kernel;

namespace Subscriptions.Api.Signup;

/// <summary>What a signup at a disposable (throwaway) mail domain gets.</summary>
public enum DisposablePolicy
{
    /// <summary>Signed up like any other address.</summary>
    Allow,

    /// <summary>Refused with a message on the email field.</summary>
    Refuse,

    /// <summary>Stored as <c>held</c>, sent nothing; answered exactly like an accepted signup.</summary>
    Hold,
}

public sealed class DisposableDomainOptions
{
    public const string Section = "Signup";

    public DisposablePolicy DisposableDomains { get; set; } = DisposablePolicy.Allow;

    /// <summary>The operator's own disposable domains, besides the shipped list (Signup/Data/disposable-domains.txt).</summary>
    public string[] MoreDisposableDomains { get; set; } = [];

    /// <summary>Domains the shipped list names that this operator does not count as disposable.</summary>
    public string[] NotDisposableDomains { get; set; } = [];
}

/// <summary>
/// Whether an address is at a disposable mail domain: the shipped list (the community-kept
/// disposable-email-domains list, see the data file's header), plus the operator's additions,
/// less the operator's exceptions. A subdomain of a listed domain is listed too
/// (x.mailinator.com); the most specific name decides, so an exception can carve out a subdomain.
/// </summary>
public sealed class DisposableDomains
{
    static readonly IdnMapping Idn = new() { UseStd3AsciiRules = true, AllowUnassigned = false };

    static readonly Lazy<string[]> Shipped = new(() =>
    {
        using var stream = typeof(DisposableDomains).Assembly.GetManifestResourceStream("Subscriptions.Api.Signup.Data.disposable-domains.txt")!;
        using var reader = new StreamReader(stream, Encoding.UTF8);
        var domains = new List<string>(130_000);
        while (reader.ReadLine() is { } line)
        {
            var domain = line.Split('#')[0].Trim();
            if (domain.Length > 0)
            {
                // the file is lower case; its few Unicode names are matched in the punycode form addresses are kept in
                domains.Add(domain.All(char.IsAscii) ? domain : Idn.GetAscii(domain));
            }
        }

        return [.. domains];
    });

    // ASCII (punycode) lower case, the form EmailAddress.TryNormalize gives the domain. The shipped
    // list (~120,000 names) is read on first use, so a service that allows disposable domains never loads it.
    readonly Lazy<FrozenSet<string>> _listed;
    readonly FrozenSet<string> _excepted;

    public DisposableDomains(DisposablePolicy policy, IEnumerable<string> additions, IEnumerable<string> exceptions)
    {
        Policy = policy;
        var added = additions.Select(d => ToAscii(d) ?? throw new ArgumentException($"'{d}' is not a mail domain.", nameof(additions))).ToList();
        _listed = new(() => Shipped.Value.Concat(added).ToFrozenSet(StringComparer.Ordinal));
        _excepted = exceptions.Select(d => ToAscii(d) ?? throw new ArgumentException($"'{d}' is not a mail domain.", nameof(exceptions)))
            .ToFrozenSet(StringComparer.Ordinal);
    }

    public DisposablePolicy Policy { get; }

    /// <summary>The shipped list, as it is in the data file.</summary>
    public static IReadOnlyList<string> ShippedDomains => Shipped.Value;

    /// <summary>Whether a configured domain is one this class can use: a valid mail domain, in ASCII or Unicode.</summary>
    public static bool IsMailDomain(string domain) => ToAscii(domain) is not null;

    /// <summary>Whether the address is at a disposable domain; false for what is not an address.</summary>
    public bool IsDisposable(string? address)
    {
        if (!EmailAddress.TryNormalize(address, out var normalized))
        {
            return false;
        }

        // the domain, then each parent but the top-level one: mx.trash.mailinator.com, trash.mailinator.com, mailinator.com
        var name = normalized[(normalized.LastIndexOf('@') + 1)..];
        while (name.Contains('.', StringComparison.Ordinal))
        {
            if (_excepted.Contains(name))
            {
                return false;
            }

            if (_listed.Value.Contains(name))
            {
                return true;
            }

            name = name[(name.IndexOf('.', StringComparison.Ordinal) + 1)..];
        }

        return false;
    }

    /// <summary>Refused under <see cref="DisposablePolicy.Refuse"/>.</summary>
    public bool Refuses(string? address) => Policy == DisposablePolicy.Refuse && IsDisposable(address);

    /// <summary>Held under <see cref="DisposablePolicy.Hold"/>.</summary>
    public bool Holds(string? address) => Policy == DisposablePolicy.Hold && IsDisposable(address);

    static string? ToAscii(string domain) =>
        EmailAddress.TryNormalize($"a@{domain.Trim()}", out var address) ? address[2..] : null;
}

public static class DisposableDomainsExtensions
{
    public static IServiceCollection AddDisposableDomains(this IServiceCollection services)
    {
        services.AddOptions<DisposableDomainOptions>()
            .BindConfiguration(DisposableDomainOptions.Section)
            .Validate(o => Enum.IsDefined(o.DisposableDomains), "Signup__DisposableDomains must be Allow, Refuse or Hold.")
            .Validate(o => o.MoreDisposableDomains.Concat(o.NotDisposableDomains).All(DisposableDomains.IsMailDomain),
                "Signup__MoreDisposableDomains and Signup__NotDisposableDomains must hold mail domains only, such as mail.example.")
            .ValidateOnStart();
        return services.AddSingleton(provider =>
        {
            var options = provider.GetRequiredService<IOptions<DisposableDomainOptions>>().Value;
            return new DisposableDomains(options.DisposableDomains, options.MoreDisposableDomains, options.NotDisposableDomains);
        });
    }
}
