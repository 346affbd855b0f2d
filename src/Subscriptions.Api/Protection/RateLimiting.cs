using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Threading.RateLimiting;
using Microsoft.AspNetCore.RateLimiting;
using Microsoft.Extensions.Localization;
using Microsoft.Extensions.Options;
using Subscriptions.Api.Localization;

namespace Subscriptions.Api.Protection;

/// <summary>
/// ASP.NET Core's rate limiter, per client IP (as the trusted-proxy rules give it; for IPv6, per
/// /64): a token bucket allows a small burst, then a steady rate. Refusals are 429 problem
/// details with Retry-After.
/// </summary>
public static class RateLimiting
{
    public const string Signup = "signup";
    public const string Links = "links";

    public static IServiceCollection AddClientRateLimits(this IServiceCollection services)
    {
        services.AddOptions<RateLimitOptions>()
            .BindConfiguration(RateLimitOptions.Section)
            .Validate(o => o.Signup.Burst > 0 && o.Signup.PerMinute > 0 && o.Links.Burst > 0 && o.Links.PerMinute > 0,
                "RateLimits__Signup__* and RateLimits__Links__* (Burst, PerMinute) must be at least 1.")
            .ValidateOnStart();

        services.AddRateLimiter(_ => { });
        services.AddOptions<RateLimiterOptions>().Configure<IOptions<RateLimitOptions>>((limiter, limits) =>
        {
            limiter.AddPolicy(Signup, http => PerClient(http, limits.Value.Signup));
            limiter.AddPolicy(Links, http => PerClient(http, limits.Value.Links));
            limiter.OnRejected = async (context, cancellationToken) =>
            {
                var retryAfter = context.Lease.TryGetMetadata(MetadataName.RetryAfter, out var wait) ? wait : TimeSpan.FromMinutes(1);
                if (context.HttpContext.GetEndpoint()?.Metadata.GetMetadata<EnableRateLimitingAttribute>()?.PolicyName == Signup)
                {
                    context.HttpContext.RequestServices.GetRequiredService<Hosting.SubscriptionsMetrics>().Signup("throttled");
                }

                var texts = context.HttpContext.RequestServices.GetRequiredService<IStringLocalizer<Texts>>();
                var response = context.HttpContext.Response;
                response.StatusCode = StatusCodes.Status429TooManyRequests;
                response.Headers.RetryAfter = Math.Ceiling(retryAfter.TotalSeconds).ToString(CultureInfo.InvariantCulture);
                await context.HttpContext.RequestServices.GetRequiredService<IProblemDetailsService>().WriteAsync(new ProblemDetailsContext
                {
                    HttpContext = context.HttpContext,
                    ProblemDetails = { Status = 429, Title = texts["ProblemTooManyTitle"], Detail = texts["ProblemTooMany"] },
                });
            };
        });
        return services;
    }

    /// <summary>
    /// What one client's requests count against: its IPv4 address, or the /64 its IPv6 address
    /// is in. A subscriber line or a server is given a whole /64 and picks any address in it,
    /// so per address a single client would have 2^64 buckets.
    /// </summary>
    public static IPAddress Partition(IPAddress? client)
    {
        if (client is null)
        {
            return IPAddress.None;
        }

        if (client.IsIPv4MappedToIPv6)
        {
            return client.MapToIPv4();
        }

        if (client.AddressFamily != AddressFamily.InterNetworkV6)
        {
            return client;
        }

        // a new address without the interface half (and the scope id, which IPAddress equality counts)
        Span<byte> bytes = stackalloc byte[16];
        client.TryWriteBytes(bytes, out _);
        bytes[8..].Clear();
        return new IPAddress(bytes);
    }

    static RateLimitPartition<IPAddress> PerClient(HttpContext http, RateLimitOptions.TokenBucket bucket) =>
        RateLimitPartition.GetTokenBucketLimiter(Partition(http.Connection.RemoteIpAddress), _ => new TokenBucketRateLimiterOptions
        {
            TokenLimit = bucket.Burst,
            TokensPerPeriod = 1,
            ReplenishmentPeriod = TimeSpan.FromMinutes(1) / bucket.PerMinute,
            QueueLimit = 0,
            AutoReplenishment = true,
        });
}
