using System.Net;
using System.Net.Sockets;
using DnsClient;
using DnsClient.Protocol;
using Microsoft.Extensions.Caching.Memory;
using Microsoft.Extensions.Options;
using Subscriptions.Api.Kernel;

namespace Subscriptions.Api.Signup;

public sealed class MailDomainCheckOptions
{
    public const string Section = "Signup";

    /// <summary>Refuse addresses whose domain has neither an MX nor an A/AAAA record (off by default).</summary>
    public bool CheckMx { get; set; }

    /// <summary>The most one signup waits for DNS; past it the address is taken (fail open).</summary>
    public TimeSpan MxTimeout { get; set; } = TimeSpan.FromSeconds(1.5);

    /// <summary>Resolvers to ask ("192.0.2.53", "192.0.2.53:5353", "[2001:db8::53]:53"); none = the system's.</summary>
    public string[] DnsServers { get; set; } = [];

    /// <summary>Domains whose answer is kept in memory, at most.</summary>
    public int MxCacheSize { get; set; } = 10_000;

    public static bool TryParseServer(string value, out IPEndPoint endPoint)
    {
        if (IPAddress.TryParse(value, out var address))
        {
            endPoint = new IPEndPoint(address, 53);
            return true;
        }

        if (IPEndPoint.TryParse(value, out var parsed) && parsed.Port > 0)
        {
            endPoint = parsed;
            return true;
        }

        endPoint = null!;
        return false;
    }
}

/// <summary>Whether a domain can receive mail, as DNS says.</summary>
public enum MailDomainStatus
{
    /// <summary>It has an MX record, or (no MX) an A or AAAA record: RFC 5321's implicit MX.</summary>
    Receives,

    /// <summary>It does not exist, has no MX, A or AAAA record, or says it takes no mail (RFC 7505 null MX).</summary>
    NoMail,

    /// <summary>DNS failed or did not answer within the budget: the address is taken (fail open).</summary>
    Unknown,
}

/// <summary>
/// The optional MX check (<c>Signup__CheckMx</c>): a signup at a domain that cannot receive mail
/// is refused, since its confirmation could never arrive. DNS is asked through DnsClient, at the
/// configured resolvers or the system's. It never refuses on a DNS failure or timeout, and never
/// holds a signup longer than <c>Signup__MxTimeout</c> for all its queries together. Answers are
/// kept per domain in a bounded cache: a domain that receives for an hour, one that does not for
/// five minutes (it may be being set up), a failure for a minute (so a resolver outage costs each
/// domain the budget once a minute, not every signup).
/// </summary>
public sealed partial class MailDomainCheck : IDisposable
{
    static readonly TimeSpan ReceivesFor = TimeSpan.FromHours(1);
    static readonly TimeSpan NoMailFor = TimeSpan.FromMinutes(5);
    static readonly TimeSpan UnknownFor = TimeSpan.FromMinutes(1);

    readonly LookupClient? _dns;
    readonly TimeSpan _budget;
    readonly MemoryCache _cache;
    readonly ILogger<MailDomainCheck> _logger;

    public MailDomainCheck(IOptions<MailDomainCheckOptions> options, ILogger<MailDomainCheck> logger)
    {
        var settings = options.Value;
        _logger = logger;
        _budget = settings.MxTimeout;
        _cache = new MemoryCache(new MemoryCacheOptions { SizeLimit = settings.MxCacheSize });
        if (!settings.CheckMx)
        {
            return;
        }

        var servers = settings.DnsServers.Select(s => MailDomainCheckOptions.TryParseServer(s, out var endPoint) ? endPoint : null!).ToArray();
        var lookup = servers.Length > 0 ? new LookupClientOptions(servers) : new LookupClientOptions();
        // one try within the budget; this class caches, and an empty answer is an answer
        lookup.Timeout = settings.MxTimeout;
        lookup.Retries = 0;
        lookup.UseCache = false;
        lookup.ThrowDnsErrors = false;
        lookup.ContinueOnEmptyResponse = false;
        _dns = new LookupClient(lookup);
    }

    public bool Enabled => _dns is not null;

    /// <summary>False only when DNS says the address's domain takes no mail; true when the check is off or DNS cannot tell.</summary>
    public async Task<bool> MayReceiveMailAsync(string? address, CancellationToken cancellationToken) =>
        await StatusAsync(address, cancellationToken) != MailDomainStatus.NoMail;

    public async Task<MailDomainStatus> StatusAsync(string? address, CancellationToken cancellationToken)
    {
        if (_dns is null || !EmailAddress.TryNormalize(address, out var normalized))
        {
            return MailDomainStatus.Unknown;
        }

        var domain = normalized[(normalized.LastIndexOf('@') + 1)..];
        if (_cache.TryGetValue(domain, out MailDomainStatus known))
        {
            return known;
        }

        var status = await LookUpAsync(_dns, domain, cancellationToken);
        _cache.Set(domain, status, new MemoryCacheEntryOptions
        {
            Size = 1,
            AbsoluteExpirationRelativeToNow = status switch
            {
                MailDomainStatus.Receives => ReceivesFor,
                MailDomainStatus.NoMail => NoMailFor,
                _ => UnknownFor,
            },
        });
        return status;
    }

    async Task<MailDomainStatus> LookUpAsync(LookupClient dns, string domain, CancellationToken cancellationToken)
    {
        // One budget for every query of this lookup; WaitAsync holds it whatever the library does.
        using var budget = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        budget.CancelAfter(_budget);
        try
        {
            var mx = await dns.QueryAsync(domain, QueryType.MX, QueryClass.IN, budget.Token).WaitAsync(budget.Token);
            if (mx.Header.ResponseCode == DnsHeaderResponseCode.NotExistentDomain)
            {
                return MailDomainStatus.NoMail;
            }

            if (mx.Header.ResponseCode != DnsHeaderResponseCode.NoError)
            {
                Failed(_logger, mx.Header.ResponseCode.ToString());
                return MailDomainStatus.Unknown;
            }

            var exchanges = mx.Answers.MxRecords().ToList();
            if (exchanges.Count > 0)
            {
                return exchanges.All(IsNullMx) ? MailDomainStatus.NoMail : MailDomainStatus.Receives;
            }

            // No MX: mail goes to the domain's own address (RFC 5321 section 5.1).
            var a = dns.QueryAsync(domain, QueryType.A, QueryClass.IN, budget.Token);
            var aaaa = dns.QueryAsync(domain, QueryType.AAAA, QueryClass.IN, budget.Token);
            var answers = await Task.WhenAll(a, aaaa).WaitAsync(budget.Token);
            if (answers.Any(r => r.Header.ResponseCode == DnsHeaderResponseCode.NoError && (r.Answers.ARecords().Any() || r.Answers.AaaaRecords().Any())))
            {
                return MailDomainStatus.Receives;
            }

            if (answers.All(r => r.Header.ResponseCode is DnsHeaderResponseCode.NoError or DnsHeaderResponseCode.NotExistentDomain))
            {
                return MailDomainStatus.NoMail;
            }

            Failed(_logger, string.Join(", ", answers.Select(r => r.Header.ResponseCode)));
            return MailDomainStatus.Unknown;
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            Failed(_logger, $"no answer within {_budget.TotalSeconds:0.###} s");
            return MailDomainStatus.Unknown;
        }
        catch (Exception ex) when (ex is DnsResponseException or SocketException or TimeoutException or IOException)
        {
            Failed(_logger, ex is DnsResponseException failure ? failure.Code.ToString() : ex.GetType().Name); // its message names the domain
            return MailDomainStatus.Unknown;
        }
    }

    // RFC 7505: a single MX of preference 0 and exchange "." says the domain accepts no mail.
    static bool IsNullMx(MxRecord record) => record.Exchange.Value.TrimEnd('.').Length == 0;

    // the domain is left out: with the address's local part gone it is still about one reader
    [LoggerMessage(Level = LogLevel.Warning, Message = "A mail domain's DNS lookup failed ({Reason}); the signup is taken (fail open)")]
    static partial void Failed(ILogger logger, string reason);

    public void Dispose() => _cache.Dispose();
}

public static class MailDomainCheckExtensions
{
    public static IServiceCollection AddMailDomainCheck(this IServiceCollection services)
    {
        services.AddOptions<MailDomainCheckOptions>()
            .BindConfiguration(MailDomainCheckOptions.Section)
            .Validate(o => o.MxTimeout >= TimeSpan.FromMilliseconds(100) && o.MxTimeout <= TimeSpan.FromSeconds(10),
                "Signup__MxTimeout must be between 00:00:00.1 and 00:00:10.")
            .Validate(o => o.DnsServers.All(s => MailDomainCheckOptions.TryParseServer(s, out _)),
                "Signup__DnsServers must hold IP addresses, each with an optional port, e.g. 192.0.2.53 or 192.0.2.53:5353.")
            .Validate(o => o.MxCacheSize is >= 1 and <= 10_000_000, "Signup__MxCacheSize must be between 1 and 10000000.")
            .ValidateOnStart();
        return services.AddSingleton<MailDomainCheck>();
    }
}
