using System.Net.Http.Json;
using System.Text.Json;

namespace Subscriptions.Api.Tests.Infrastructure;

/// <summary>
/// A real OTLP/HTTP receiver (tests/otlp-receiver/receiver.cjs on Node) that decodes what the
/// service exports with the official opentelemetry-proto definitions (protobufjs, from npm's
/// @opentelemetry/otlp-transformer), not with the service's code or the .NET SDK's.
/// </summary>
public sealed class OtlpReceiver : IAsyncDisposable
{
    readonly NodeServer _server;
    readonly HttpClient _control;

    OtlpReceiver(NodeServer server)
    {
        _server = server;
        Endpoint = new Uri($"http://127.0.0.1:{server.Port}");
        _control = new HttpClient { BaseAddress = Endpoint };
    }

    /// <summary>What OTEL_EXPORTER_OTLP_ENDPOINT names (the exporter adds /v1/traces, /v1/metrics).</summary>
    public Uri Endpoint { get; }

    public static async Task<OtlpReceiver> StartAsync() => new(await NodeServer.StartAsync("otlp-receiver"));

    /// <summary>The settings that point the service at this receiver, exporting promptly.</summary>
    public (string Key, string? Value)[] Settings() =>
    [
        ("OTEL_EXPORTER_OTLP_ENDPOINT", Endpoint.AbsoluteUri.TrimEnd('/')),
        ("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf"),
        ("OTEL_BSP_SCHEDULE_DELAY", "100"),
        ("OTEL_METRIC_EXPORT_INTERVAL", "500"),
    ];

    public sealed record Link(string TraceId, string SpanId);

    public sealed record Event(string Name, Dictionary<string, string?> Attributes);

    /// <summary>A span as received. Kind: 1 internal, 2 server, 3 client, 4 producer, 5 consumer. Status: 2 error.</summary>
    public sealed record Span(string TraceId, string SpanId, string ParentSpanId, string Name, int Kind, string Scope, string? Service,
        Dictionary<string, string?> Attributes, List<Event> Events, List<Link> Links, int Status)
    {
        public string? this[string attribute] => Attributes.GetValueOrDefault(attribute);
    }

    public async Task<List<Span>> SpansAsync() =>
        (await _control.GetFromJsonAsync<List<Span>>("control/spans", JsonSerializerOptions.Web))!;

    public async Task<List<string>> MetricNamesAsync() =>
        (await _control.GetFromJsonAsync<List<string>>("control/metrics", JsonSerializerOptions.Web))!;

    /// <summary>Waits until <paramref name="done"/> holds for the spans received so far.</summary>
    public async Task<List<Span>> WaitAsync(Func<List<Span>, bool> done, string what, TimeSpan? timeout = null)
    {
        var deadline = DateTime.UtcNow + (timeout ?? TimeSpan.FromSeconds(30));
        while (true)
        {
            var spans = await SpansAsync();
            if (done(spans))
            {
                return spans;
            }

            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException($"no spans for: {what}; received {spans.Count}:\n" +
                    string.Join('\n', spans.Select(s => $"{s.TraceId} {s.SpanId} <- {s.ParentSpanId} {s.Scope} '{s.Name}' kind {s.Kind}")));
            }

            await Task.Delay(100);
        }
    }

    public ValueTask DisposeAsync()
    {
        _control.Dispose();
        _server.Dispose();
        return ValueTask.CompletedTask;
    }
}
