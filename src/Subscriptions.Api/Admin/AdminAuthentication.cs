using System.Net;
using System.Security.Claims;
using System.Security.Cryptography;
using System.Text;
using System.Text.Encodings.Web;
using System.Threading.RateLimiting;
using Microsoft.AspNetCore.Authentication;
using Microsoft.Extensions.Options;
using Subscriptions.Api.Protection;

namespace Subscriptions.Api.Admin;

public sealed class AdminOptions
{
    public const string Section = "Admin";

    /// <summary>The bearer key for /api/admin/*. None configured (here or in ApiKeys) = nobody gets in.</summary>
    public string? ApiKey { get; set; }

    /// <summary>More keys, so a new one can be rolled out before the old one is withdrawn.</summary>
    public string[] ApiKeys { get; set; } = [];

    /// <summary>Failed attempts a client may make per minute before it gets 429 for the rest of that minute.</summary>
    public int FailedAttemptsPerMinute { get; set; } = 10;

    public const int MinimumKeyLength = 16;

    public IEnumerable<string> AllKeys() => ApiKeys.Prepend(ApiKey ?? string.Empty).Where(k => !string.IsNullOrEmpty(k));
}

/// <summary>
/// "Authorization: Bearer &lt;key&gt;" against the configured admin keys. Keys are compared as
/// SHA-256 digests with a fixed-time comparison, so neither content nor length leaks through
/// timing. Failed attempts (missing or wrong key) are counted per client: its IPv4 address, or
/// the /64 its IPv6 address is in, as the rate limits count them (a guesser with a /64 would
/// otherwise get 2^64 allowances).
/// </summary>
public sealed class AdminKeyHandler(
    IOptionsMonitor<AuthenticationSchemeOptions> schemeOptions,
    ILoggerFactory loggerFactory,
    UrlEncoder encoder,
    IOptions<AdminOptions> adminOptions,
    AdminFailureLimiter failures,
    IProblemDetailsService problemDetails) : AuthenticationHandler<AuthenticationSchemeOptions>(schemeOptions, loggerFactory, encoder)
{
    public const string SchemeName = "AdminKey";
    public const string Policy = "Admin";

    readonly byte[][] _keyDigests = [.. adminOptions.Value.AllKeys().Select(k => SHA256.HashData(Encoding.UTF8.GetBytes(k)))];
    bool _throttled;

    protected override Task<AuthenticateResult> HandleAuthenticateAsync()
    {
        var client = RateLimiting.Partition(Context.Connection.RemoteIpAddress);
        if (failures.IsExhausted(client))
        {
            _throttled = true;
            return Task.FromResult(AuthenticateResult.Fail("too many failed attempts"));
        }

        var header = Request.Headers.Authorization.ToString();
        var presented = header.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase)
            ? SHA256.HashData(Encoding.UTF8.GetBytes(header["Bearer ".Length..].Trim()))
            : null;

        var matched = false;
        foreach (var digest in _keyDigests)
        {
            matched |= presented is not null && CryptographicOperations.FixedTimeEquals(digest, presented);
        }

        if (!matched)
        {
            failures.Record(client);
            return Task.FromResult(AuthenticateResult.Fail("missing or wrong admin key"));
        }

        var identity = new ClaimsIdentity([new Claim(ClaimTypes.Role, Policy)], SchemeName);
        return Task.FromResult(AuthenticateResult.Success(new AuthenticationTicket(new ClaimsPrincipal(identity), SchemeName)));
    }

    protected override async Task HandleChallengeAsync(AuthenticationProperties properties)
    {
        if (_throttled)
        {
            Response.StatusCode = StatusCodes.Status429TooManyRequests;
            Response.Headers.RetryAfter = "60";
            await WriteProblemAsync("Too many failed attempts", "Wait a minute before trying again.");
            return;
        }

        Response.StatusCode = StatusCodes.Status401Unauthorized;
        Response.Headers.WWWAuthenticate = "Bearer";
        await WriteProblemAsync("Unauthorized", "Send the admin key as Authorization: Bearer <key>.");
    }

    Task WriteProblemAsync(string title, string detail) => problemDetails.WriteAsync(new ProblemDetailsContext
    {
        HttpContext = Context,
        ProblemDetails = { Status = Response.StatusCode, Title = title, Detail = detail },
    }).AsTask();
}

/// <summary>Counts failed admin authentications per client (<see cref="RateLimiting.Partition"/>) in fixed one-minute windows.</summary>
public sealed class AdminFailureLimiter(IOptions<AdminOptions> options) : IDisposable
{
    readonly PartitionedRateLimiter<IPAddress> _limiter = PartitionedRateLimiter.Create<IPAddress, IPAddress>(client =>
        RateLimitPartition.GetFixedWindowLimiter(client, _ => new FixedWindowRateLimiterOptions
        {
            PermitLimit = options.Value.FailedAttemptsPerMinute,
            Window = TimeSpan.FromMinutes(1),
            QueueLimit = 0,
        }));

    public bool IsExhausted(IPAddress client) => _limiter.GetStatistics(client)?.CurrentAvailablePermits == 0;

    public void Record(IPAddress client)
    {
        using var _ = _limiter.AttemptAcquire(client);
    }

    public void Dispose() => _limiter.Dispose();
}
