using System.Text.Json.Serialization;
using Microsoft.AspNetCore.Authorization;
using Microsoft.OpenApi;
using OpenTelemetry.Metrics;
using Scalar.AspNetCore;

namespace Subscriptions.Api.Hosting;

/// <summary>What operators and integrators see: the OpenAPI document, Prometheus metrics, JSON logs.</summary>
public static class Observability
{
    const string BearerScheme = "bearer";

    public static WebApplicationBuilder AddObservability(this WebApplicationBuilder builder)
    {
        builder.Services.AddOpenApi(options =>
        {
            options.AddDocumentTransformer((document, _, _) =>
            {
                document.Info.Title = "Subscriptions";
                document.Info.Description = """
                    Newsletter signups with double opt-in, and the admin API of the confirmed audience.
                    Not described here: /metrics (Prometheus exposition), this document itself, and the landing pages
                    the service redirects browsers to (/signup/thank-you, /signup/confirmed).
                    """;
                document.Components ??= new OpenApiComponents();
                document.Components.SecuritySchemes ??= new Dictionary<string, IOpenApiSecurityScheme>();
                document.Components.SecuritySchemes[BearerScheme] = new OpenApiSecurityScheme
                {
                    Type = SecuritySchemeType.Http,
                    Scheme = BearerScheme,
                    Description = "Admin__ApiKey (or one of Admin__ApiKeys__*), sent as Authorization: Bearer <key>.",
                };
                return Task.CompletedTask;
            });
            options.AddOperationTransformer((operation, context, _) =>
            {
                if (context.Description.ActionDescriptor.EndpointMetadata.OfType<IAuthorizeData>().Any())
                {
                    operation.Security ??= [];
                    operation.Security.Add(new OpenApiSecurityRequirement { [new OpenApiSecuritySchemeReference(BearerScheme, context.Document)] = [] });
                }

                return Task.CompletedTask;
            });
            options.AddRetryAfterHeaders();
            options.AddReplicaHeaders();
            options.AddErrorPages();
        });

        // Numbers are numbers. The web default also reads them from strings, which made every
        // count in the document "integer or string"; no request of this API carries a number.
        builder.Services.ConfigureHttpJsonOptions(json => json.SerializerOptions.NumberHandling = JsonNumberHandling.Strict);

        builder.Services.AddOpenTelemetry().WithMetrics(metrics => metrics
            .AddAspNetCoreInstrumentation()
            .AddRuntimeInstrumentation()
            .AddMeter("Npgsql", SubscriptionsMetrics.MeterName)
            .AddPrometheusExporter(prometheus => prometheus.ScrapeResponseCacheDurationMilliseconds = 0));

        // The read-only database's lag, checked in the background: a scrape must not wait for a database.
        builder.Services.AddHostedService<ReplicaLag>();

        // Production logs are one JSON object per line, with the trace and request ids in scope.
        if (!builder.Environment.IsDevelopment())
        {
            builder.Logging.AddJsonConsole(json =>
            {
                json.IncludeScopes = true;
                json.UseUtcTimestamp = true;
                json.TimestampFormat = "yyyy-MM-ddTHH:mm:ss.fffZ";
            });
        }

        return builder;
    }

    public static WebApplication MapObservability(this WebApplication app)
    {
        app.MapOpenApi();
        app.MapPrometheusScrapingEndpoint().WithMetadata(ManagementPort.Only);
        if (app.Environment.IsDevelopment())
        {
            app.MapScalarApiReference();
        }

        return app;
    }
}
