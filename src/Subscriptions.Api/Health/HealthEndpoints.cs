using Microsoft.AspNetCore.Diagnostics.HealthChecks;

namespace Subscriptions.Api.Health;

public static class HealthEndpoints
{
    const string ReadyTag = "ready";

    public static IServiceCollection AddHealth(this IServiceCollection services)
    {
        services.AddHealthChecks().AddNpgSql(name: "postgresql", tags: [ReadyTag]);
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
