using Dapper;
using Microsoft.AspNetCore.Cors.Infrastructure;
using Microsoft.Extensions.Caching.Memory;
using Microsoft.Extensions.Options;
using Npgsql;
using Subscriptions.Api.Kernel;

namespace Subscriptions.Api.Protection;

/// <summary>
/// CORS for browser scripts that POST JSON signups: an origin is granted when it is configured
/// globally (Cors__AllowedOrigins) or for any list (admin lists API). The grant names that one
/// origin, never a wildcard, and never allows credentials. Other origins get no CORS headers,
/// so their scripts cannot read the answer (plain HTML forms need no CORS and work from anywhere).
/// </summary>
public sealed class SignupCorsPolicyProvider(
    NpgsqlDataSource dataSource, IMemoryCache cache, IOptions<CorsOptions> options) : ICorsPolicyProvider
{
    public const string Policy = "signup";
    static readonly TimeSpan CacheFor = TimeSpan.FromSeconds(30);

    public async Task<CorsPolicy?> GetPolicyAsync(HttpContext context, string? policyName)
    {
        var origin = context.Request.Headers.Origin.ToString();
        if (policyName != Policy || string.IsNullOrEmpty(origin) || !(await AllowedOriginsAsync(context.RequestAborted)).Contains(origin))
        {
            return new CorsPolicy(); // grants nothing
        }

        return new CorsPolicyBuilder()
            .WithOrigins(origin)
            .WithMethods("POST")
            .WithHeaders("Content-Type", "Accept", "Accept-Language")
            .SetPreflightMaxAge(TimeSpan.FromHours(1))
            .Build();
    }

    // Lists change rarely; a short cache keeps preflights off the database.
    async Task<HashSet<string>> AllowedOriginsAsync(CancellationToken cancellationToken) =>
        (await cache.GetOrCreateAsync(nameof(SignupCorsPolicyProvider), async entry =>
        {
            entry.AbsoluteExpirationRelativeToNow = CacheFor;
            await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
            var fromLists = await connection.QueryAsync<string>(new CommandDefinition(
                "SELECT DISTINCT unnest(allowed_origins) FROM lists", cancellationToken: cancellationToken));
            return fromLists.Concat(options.Value.AllowedOrigins.Select(o => o.TrimEnd('/').ToLowerInvariant()))
                .ToHashSet(StringComparer.OrdinalIgnoreCase);
        }))!;
}

public static class SignupCors
{
    public static IServiceCollection AddSignupCors(this IServiceCollection services)
    {
        services.AddOptions<CorsOptions>()
            .BindConfiguration(CorsOptions.Section)
            .Validate(o => o.AllowedOrigins.All(InputRules.IsOrigin),
                "Cors__AllowedOrigins__* are origins: https://host[:port] (http only for localhost), no path.")
            .ValidateOnStart();
        services.AddMemoryCache();
        services.AddCors();
        services.AddSingleton<ICorsPolicyProvider, SignupCorsPolicyProvider>();
        return services;
    }
}
