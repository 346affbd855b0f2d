using System.Net.Http.Json;
using System.Text.Json;

namespace Subscriptions.Api.Tests.Infrastructure;

/// <summary>
/// A real HTTP receiver of webhooks (tests/webhook-receiver/receiver.cjs on Node) that verifies
/// every delivery with the Standard Webhooks reference library for JavaScript, not with the
/// service's code. Each named hook has its own secret and behaviour.
/// </summary>
public sealed class WebhookReceiver : IAsyncDisposable
{
    readonly NodeServer _server;
    readonly HttpClient _control;

    WebhookReceiver(NodeServer server)
    {
        _server = server;
        BaseAddress = new Uri($"http://127.0.0.1:{server.Port}/");
        _control = new HttpClient { BaseAddress = BaseAddress };
    }

    public Uri BaseAddress { get; }

    public static async Task<WebhookReceiver> StartAsync() => new(await NodeServer.StartAsync("webhook-receiver"));

    /// <summary>Where the service should deliver this hook's events.</summary>
    public string Url(string name) => new Uri(BaseAddress, $"hooks/{name}").AbsoluteUri;

    /// <summary>
    /// Sets a hook up: its secret, how many deliveries it refuses first (with <paramref name="status"/>
    /// and, if given, a Retry-After of <paramref name="retryAfter"/> seconds), or a mode: "ok", "hang"
    /// (never answers), "gone" (410); and how long it takes over each answer.
    /// </summary>
    public async Task ConfigureAsync(string name, string secret, int failures = 0, int status = 500, string mode = "ok", TimeSpan delay = default,
        int? retryAfter = null) =>
        (await _control.PutAsJsonAsync($"control/{name}", new { secret, failures, status, mode, delay = (int)delay.TotalMilliseconds, retryAfter }))
        .EnsureSuccessStatusCode();

    /// <summary>From now on the hook answers every delivery (its refusals left are dropped).</summary>
    public async Task RecoverAsync(string name) =>
        (await _control.PutAsJsonAsync($"control/{name}", new { failures = 0 })).EnsureSuccessStatusCode();

    /// <param name="At">When it arrived, in milliseconds since the epoch (the receiver's clock).</param>
    public sealed record Received(string? Id, string? Timestamp, bool Verified, string? Error, JsonElement Body, int Answered, long At)
    {
        public string Type => Body.GetProperty("type").GetString()!;

        public JsonElement Data => Body.GetProperty("data");
    }

    /// <summary>Every delivery this hook got, in order of arrival, failed and repeated ones included.</summary>
    public async Task<List<Received>> ReceivedAsync(string name) =>
        (await _control.GetFromJsonAsync<List<Received>>($"control/{name}", JsonSerializerOptions.Web))!;

    /// <summary>Waits until <paramref name="done"/> holds for the hook's deliveries.</summary>
    public async Task<List<Received>> WaitAsync(string name, Func<List<Received>, bool> done, TimeSpan? timeout = null)
    {
        var deadline = DateTime.UtcNow + (timeout ?? TimeSpan.FromSeconds(30));
        while (true)
        {
            var received = await ReceivedAsync(name);
            if (done(received))
            {
                return received;
            }

            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException($"hook {name} got {received.Count} deliveries: {string.Join(", ", received.Select(r => $"{r.Id} {r.Answered}"))}");
            }

            await Task.Delay(50);
        }
    }

    public ValueTask DisposeAsync()
    {
        _control.Dispose();
        _server.Dispose();
        return ValueTask.CompletedTask;
    }
}
