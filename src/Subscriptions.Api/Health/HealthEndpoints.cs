using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Diagnostics.HealthChecks;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.AspNetCore.OpenApi;
using Microsoft.OpenApi;
using Subscriptions.Api.Hosting;

namespace Subscriptions.Api.Health;

public static class HealthEndpoints
{
    const string ReadyTag = "ready";
    const string LivePath = "/health/live";
    const string ReadyPath = "/health/ready";
    const string HealthCheckServiceCategory = "Microsoft.Extensions.Diagnostics.HealthChecks.DefaultHealthCheckService";

    public static IServiceCollection AddHealth(this IServiceCollection services)
    {
        services.AddHealthChecks()
            .AddNpgSql(name: "postgresql", tags: [ReadyTag])
            .AddCheck<ReplicaHealthCheck>("postgresql-replica", HealthStatus.Degraded, [ReadyTag]);

        // An unready probe is the signal itself, and every request and worker that meets the
        // outage logs it as a Warning; the health check service would add an Error per probe,
        // as if the outage were a bug. Its Warnings (a degraded check) stay.
        services.AddLogging(logging => logging.AddFilter(HealthCheckServiceCategory, level => level is LogLevel.Warning));

        // The probes are middleware, not route handlers, so the document learns of them here.
        // With Management__Urls set they are not on the public URLs, so not in the public API's document.
        services.Configure<OpenApiOptions>("v1", options => options.AddDocumentTransformer((document, context, _) =>
        {
            if (ManagementPort.IsConfigured(context.ApplicationServices))
            {
                return Task.CompletedTask;
            }

            document.Paths.Add(LivePath, Probe(document, "HealthLive", "Liveness: the process answers (PostgreSQL is not asked)."));
            document.Paths.Add(ReadyPath, Probe(document, "HealthReady", "Readiness: the process can also reach PostgreSQL, so it may take traffic (Degraded: the read-only database, export's and stats' replica, cannot be reached)."));
            return Task.CompletedTask;
        }));
        return services;
    }

    // Live: the process answers. Ready: it can also reach PostgreSQL, so it may take traffic.
    public static IEndpointRouteBuilder MapHealth(this IEndpointRouteBuilder app)
    {
        app.MapHealthChecks(LivePath, new HealthCheckOptions { Predicate = _ => false }).WithMetadata(ManagementPort.Only);
        app.MapHealthChecks(ReadyPath, new HealthCheckOptions { Predicate = check => check.Tags.Contains(ReadyTag) }).WithMetadata(ManagementPort.Only);
        return app;
    }

    static OpenApiPathItem Probe(OpenApiDocument document, string operationId, string summary)
    {
        const string tag = "Operations";
        document.Tags ??= new HashSet<OpenApiTag>();
        document.Tags.Add(new OpenApiTag { Name = tag });
        return new OpenApiPathItem
        {
            Operations = new Dictionary<HttpMethod, OpenApiOperation>
            {
                [HttpMethod.Get] = new()
                {
                    OperationId = operationId,
                    Summary = summary,
                    Tags = new HashSet<OpenApiTagReference> { new(tag, document) },
                    Responses = new OpenApiResponses
                    {
                        ["200"] = Status("Healthy, or Degraded", "Healthy", "Degraded"),
                        ["503"] = Status("Unhealthy", "Unhealthy"),
                    },
                },
            },
        };
    }

    static OpenApiResponse Status(string description, params string[] values) => new()
    {
        Description = description,
        Content = new Dictionary<string, OpenApiMediaType>
        {
            ["text/plain"] = new()
            {
                Schema = new OpenApiSchema { Type = JsonSchemaType.String, Enum = [.. values.Select(v => (JsonNode)JsonValue.Create(v))] },
            },
        },
    };
}
