using System.Diagnostics;
using Npgsql;
using OpenTelemetry.Metrics;
using OpenTelemetry.Resources;
using OpenTelemetry.Trace;

namespace Subscriptions.Api.Hosting;

/// <summary>
/// OpenTelemetry traces (and the metrics, beside Prometheus) over OTLP, only when the standard
/// OTEL_EXPORTER_OTLP_ENDPOINT is set: otherwise nothing is registered and nothing listens. The
/// SDK reads the other standard names itself (OTEL_EXPORTER_OTLP_PROTOCOL, _HEADERS, _TIMEOUT,
/// OTEL_SERVICE_NAME, OTEL_RESOURCE_ATTRIBUTES, OTEL_TRACES_SAMPLER...).
/// </summary>
public static class Tracing
{
    public const string SourceName = "Subscriptions";

    const string DefaultServiceName = "subscriptions";

    /// <summary>The service's own spans: one per outbox delivery, one per SMTP send, the reminder job's runs.</summary>
    public static readonly ActivitySource Source = new(SourceName);

    public static WebApplicationBuilder AddTracing(this WebApplicationBuilder builder)
    {
        if (string.IsNullOrWhiteSpace(builder.Configuration["OTEL_EXPORTER_OTLP_ENDPOINT"]))
        {
            return builder;
        }

        builder.Services.AddOpenTelemetry()
            // a default name, which OTEL_SERVICE_NAME or OTEL_RESOURCE_ATTRIBUTES (read after it) replace
            .ConfigureResource(resource => resource.AddService(DefaultServiceName).AddEnvironmentVariableDetector())
            .WithTracing(tracing => tracing
                .AddSource(SourceName)
                .AddAspNetCoreInstrumentation(aspNetCore => aspNetCore.EnrichWithHttpResponse = TraceRedaction.Redact)
                .AddHttpClientInstrumentation(http => http.EnrichWithHttpRequestMessage = TraceRedaction.RedactOutgoing)
                .AddNpgsql()
                .AddOtlpExporter())
            .WithMetrics(metrics => metrics.AddOtlpExporter());
        return builder;
    }

    /// <summary>
    /// The W3C traceparent of the current span, for an outbox row to carry to its delivery; null
    /// when nothing traces (no cost, and the rows carry nothing).
    /// </summary>
    public static string? CurrentTraceparent =>
        Source.HasListeners() && Activity.Current is { IdFormat: ActivityIdFormat.W3C } current ? current.Id : null;

    /// <summary>The context a row carried, if it carried a well-formed one.</summary>
    public static ActivityContext? Parse(string? traceparent) =>
        traceparent is not null && ActivityContext.TryParse(traceparent, null, isRemote: true, out var context) ? context : null;
}
