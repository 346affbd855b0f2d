using Microsoft.AspNetCore.Diagnostics.HealthChecks;

namespace Subscriptions.Api.Health;

public static class HealthEndpoints
{
    const string ReadyTag = "ready";
    const string HealthCheckServiceCategory = "Microsoft.Extensions.Diagnostics.HealthChecks.DefaultHealthCheckService";

    public static IServiceCollection AddHealth(this IServiceCollection services)
    {
        services.AddHealthChecks().AddNpgSql(name: "postgresql", tags: [ReadyTag]);

        // An unready probe is the signal itself, and every request and worker that meets the
        // outage logs it as a Warning; the health check service would add an Error per probe,
        // as if the outage were a bug. Its Warnings (a degraded check) stay.
        services.AddLogging(logging => logging.AddFilter(HealthCheckServiceCategory, level => level is LogLevel.Warning));
        return services;
    }

    // Live: the process answers. Ready: it can also reach PostgreSQL, so it may take traffic.
    public static IEndpointRouteBuilder MapHealth(this IEndpointRouteBuilder app)
    {
        app.MapHealthChecks("/health/live", new HealthCheckOptions { Predicate = _ => false });
        app.MapHealthChecks("/health/ready", new HealthCheckOptions { Predicate = check => check.Tags.Contains(ReadyTag) });
        return app;
    }
}
