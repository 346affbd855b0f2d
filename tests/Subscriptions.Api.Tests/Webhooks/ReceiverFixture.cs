using System.Net.Http.Json;
using Subscriptions.Api.Tests.Infrastructure;

namespace Subscriptions.Api.Tests.Webhooks;

/// <summary>One webhook receiver process per test class; each test uses hooks of its own names.</summary>
public sealed class ReceiverFixture : IAsyncLifetime
{
    public WebhookReceiver Receiver { get; private set; } = null!;

    public async Task InitializeAsync() => Receiver = await WebhookReceiver.StartAsync();

    public async Task DisposeAsync() => await Receiver.DisposeAsync();
}

/// <summary>Registering an endpoint through the admin API, as an editor would.</summary>
public static class WebhookAdmin
{
    public static readonly string[] AllEvents =
        ["subscription.created", "subscription.confirmed", "subscription.unsubscribed", "subscriber.suppressed", "subscriber.erased", "subscriber.updated"];

    /// <summary>Registers <paramref name="name"/>'s URL and gives the receiver the secret the service answered with.</summary>
    public static async Task<long> RegisterAsync(HttpClient admin, WebhookReceiver receiver, string name,
        string[]? events = null, string[]? lists = null, int failures = 0, int status = 500, string mode = "ok", TimeSpan delay = default,
        int? retryAfter = null)
    {
        var response = await admin.PostAsJsonAsync("/api/admin/webhooks", new { url = receiver.Url(name), events = events ?? AllEvents, lists });
        Assert.Equal(System.Net.HttpStatusCode.Created, response.StatusCode);
        var registered = await response.Content.ReadFromJsonAsync<System.Text.Json.JsonElement>();
        var secret = registered.GetProperty("secret").GetString()!;
        Assert.StartsWith("whsec_", secret, StringComparison.Ordinal);
        await receiver.ConfigureAsync(name, secret, failures, status, mode, delay, retryAfter);
        return registered.GetProperty("id").GetInt64();
    }
}
