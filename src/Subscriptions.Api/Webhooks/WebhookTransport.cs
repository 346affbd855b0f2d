using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json.Nodes;
using Dapper;
using Microsoft.Extensions.Options;
using Npgsql;
using StandardWebhooks;
using Subscriptions.Api.Hosting;
using Subscriptions.Api.Outbox;

namespace Subscriptions.Api.Webhooks;

/// <summary>A webhook delivery the outbox holds: the event's body was fixed when the change happened.</summary>
public sealed record ClaimedWebhook(long OutboxId, long EndpointId, string Url, string Secret, string Payload, int Attempts, string? Traceparent) : IClaimedRow
{
    public string Kind => "webhook";
}

/// <summary>
/// The outbox's webhook deliveries over HTTP, signed per Standard Webhooks (with the
/// StandardWebhooks library, a port of the specification's reference code). 2xx is delivered;
/// 410 disables the endpoint; anything else is retried with the outbox's backoff, then
/// dead-lettered. A receiver that times out, refuses connections or says it is unavailable (429,
/// 502, 503, 504) is paused for a while (its Retry-After, within the outbox's retry delays), so it
/// cannot hold the workers that other receivers need, nor spend an attempt of each of its events
/// while it is down.
/// </summary>
public sealed class WebhookTransport(
    NpgsqlDataSource dataSource,
    IHttpClientFactory httpClients,
    WebhookEndpointCache endpoints,
    ManageLinks manageLinks,
    IOptions<OutboxOptions> outboxOptions,
    TimeProvider clock) : IOutboxTransport<ClaimedWebhook>
{
    public const string HttpClientName = "webhooks";

    public OutboxLane Lane => OutboxLane.Webhooks;

    public int Workers => outboxOptions.Value.WebhookWorkers;

    public int Concurrency => outboxOptions.Value.WebhookConcurrency;

    public TimeSpan PauseAfterFailure => TimeSpan.Zero; // the receiver is paused (webhook_endpoints.paused_until), not the lane

    /// <summary>Every signup wakes this lane; with no endpoint there is nothing to look for.</summary>
    public ValueTask<bool> InUseAsync(CancellationToken cancellationToken) => endpoints.AnyAsync(cancellationToken);

    public async Task<List<ClaimedWebhook>> ClaimAsync(NpgsqlConnection connection, Guid claim, DateTimeOffset now, DateTimeOffset leaseUntil,
        int batchSize, CancellationToken cancellationToken) =>
        [.. await connection.QueryAsync<ClaimedWebhook>(new CommandDefinition(OutboxSql.ClaimWebhooks,
            new { claim, now, leaseUntil, batchSize }, cancellationToken: cancellationToken))];

    public IOutboxSender<ClaimedWebhook> CreateSender() => new Sender(this, httpClients.CreateClient(HttpClientName));

    TimeProvider Clock => clock;

    int MaxAttempts => outboxOptions.Value.MaxAttempts;

    // The subscription each subscription.* event of the batch is about (the ledger's trigger keys an
    // event by its subscriber and names the list): its preference centre's link goes into the event.
    // subscriber.updated is about the reader, not one list: any of their subscriptions' links opens
    // the same centre; the first one's, so that every attempt sends the same body.
    const string SubscriptionsOfEvents = """
        SELECT o.id, sub.id FROM outbox o
        JOIN lists l ON l.slug = o.payload -> 'data' ->> 'list'
        JOIN subscriptions sub ON sub.subscriber_id = o.ordering_key AND sub.list_id = l.id
        WHERE o.id = ANY (@ids) AND o.payload ->> 'type' LIKE 'subscription.%'
        UNION ALL
        SELECT o.id, min(sub.id) FROM outbox o
        JOIN subscriptions sub ON sub.subscriber_id = o.ordering_key
        WHERE o.id = ANY (@ids) AND o.payload ->> 'type' = 'subscriber.updated'
        GROUP BY o.id
        """;

    /// <summary>
    /// The batch with <c>data.manageUrl</c> in the bodies of its subscription events and
    /// subscriber.updated events: the reader's preference centre (derived, not stored, so it is
    /// added here rather than by the trigger that wrote the event; the same for every attempt, so
    /// retries send the same body).
    /// </summary>
    async Task<IReadOnlyList<ClaimedWebhook>> WithManageLinksAsync(IReadOnlyList<ClaimedWebhook> batch, CancellationToken cancellationToken)
    {
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        var subscriptions = (await connection.QueryAsync<(long OutboxId, long SubscriptionId)>(new CommandDefinition(SubscriptionsOfEvents,
            new { ids = batch.Select(b => b.OutboxId).ToArray() }, cancellationToken: cancellationToken))).ToDictionary();
        using var links = await manageLinks.UrlMakerAsync(cancellationToken);
        return [.. batch.Select(webhook => subscriptions.TryGetValue(webhook.OutboxId, out var subscriptionId)
            ? webhook with { Payload = WithManageUrl(webhook.Payload, links.Url(subscriptionId)) }
            : webhook)];
    }

    static string WithManageUrl(string payload, Uri manageUrl)
    {
        if (JsonNode.Parse(payload) is not JsonObject body || body["data"] is not JsonObject data)
        {
            return payload;
        }

        data["manageUrl"] = manageUrl.AbsoluteUri;
        return body.ToJsonString();
    }

    sealed class Sender(WebhookTransport transport, HttpClient http) : IOutboxSender<ClaimedWebhook>
    {
        public Task<IReadOnlyList<ClaimedWebhook>> PrepareAsync(IReadOnlyList<ClaimedWebhook> batch, CancellationToken cancellationToken) =>
            transport.WithManageLinksAsync(batch, cancellationToken);

        public async Task<Delivery> DeliverAsync(ClaimedWebhook webhook, int attempts, CancellationToken cancellationToken)
        {
            var id = $"msg_{webhook.OutboxId}";
            var timestamp = transport.Clock.GetUtcNow();
            using var request = new HttpRequestMessage(HttpMethod.Post, webhook.Url)
            {
                Content = new StringContent(webhook.Payload, Encoding.UTF8, "application/json"),
            };
            request.Headers.Add("webhook-id", id);
            request.Headers.Add("webhook-timestamp", timestamp.ToUnixTimeSeconds().ToString(System.Globalization.CultureInfo.InvariantCulture));
            request.Headers.Add("webhook-signature", new StandardWebhook(webhook.Secret).Sign(id, timestamp, webhook.Payload));

            var max = transport.MaxAttempts;
            try
            {
                using var response = await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, cancellationToken);
                if (response.IsSuccessStatusCode)
                {
                    return Delivery.Sent;
                }

                if (response.StatusCode == HttpStatusCode.Gone)
                {
                    await transport.DisableAsync(webhook.EndpointId);
                    return Delivery.Dead("410 Gone: the endpoint is disabled");
                }

                var error = $"{(int)response.StatusCode} {response.ReasonPhrase}";
                if (response.StatusCode is HttpStatusCode.TooManyRequests or HttpStatusCode.BadGateway or HttpStatusCode.ServiceUnavailable
                    or HttpStatusCode.GatewayTimeout)
                {
                    // the receiver (or the proxy in front of it) is down or asks for less: as after a timeout
                    await transport.PauseAsync(webhook.EndpointId, response.Headers.RetryAfter);
                    return Delivery.Failed(error, attempts, max, giveUpBatch: true);
                }

                return Delivery.Failed(error, attempts, max);
            }
            catch (Exception ex) when (ex is HttpRequestException or TaskCanceledException && !cancellationToken.IsCancellationRequested)
            {
                // no answer in time, or no connection: leave this receiver alone for a while
                await transport.PauseAsync(webhook.EndpointId, retryAfter: null);
                var error = ex is TaskCanceledException ? "no answer within Webhooks__Timeout" : ex.Message;
                return Delivery.Failed(error, attempts, max, giveUpBatch: true);
            }
        }

        public ValueTask DisposeAsync()
        {
            http.Dispose();
            return ValueTask.CompletedTask;
        }
    }

    /// <summary>A 410 Gone: the receiver asked to hear no more. What waits for it is dead-lettered.</summary>
    async Task DisableAsync(long endpointId)
    {
        var now = clock.GetUtcNow();
        await using var connection = await dataSource.OpenConnectionAsync();
        await connection.ExecuteAsync("""
            WITH disabled AS (
                UPDATE webhook_endpoints SET disabled_at = @now WHERE id = @endpointId AND disabled_at IS NULL
            )
            UPDATE outbox SET dead_at = @now, last_error = 'not sent: the endpoint answered 410 Gone and is disabled', claim = NULL, locked_until = NULL
            WHERE webhook_endpoint_id = @endpointId AND sent_at IS NULL AND dead_at IS NULL AND claim IS NULL
            """, new { endpointId, now });
        endpoints.Invalidate();
    }

    /// <summary>
    /// Leaves the endpoint alone for <c>Outbox__RetryBaseDelay</c>, or for as long as its
    /// Retry-After asks, up to <c>Outbox__RetryMaxDelay</c>. Its claimed events go back to the
    /// queue; the next claims pass it by until then.
    /// </summary>
    async Task PauseAsync(long endpointId, RetryConditionHeaderValue? retryAfter)
    {
        var now = clock.GetUtcNow();
        var options = outboxOptions.Value;
        var asked = retryAfter?.Delta ?? retryAfter?.Date - now ?? options.RetryBaseDelay;
        var pause = TimeSpan.FromTicks(Math.Clamp(asked.Ticks, options.RetryBaseDelay.Ticks, options.RetryMaxDelay.Ticks));
        await using var connection = await dataSource.OpenConnectionAsync();
        await connection.ExecuteAsync(
            "UPDATE webhook_endpoints SET paused_until = @until WHERE id = @endpointId",
            new { endpointId, until = now + pause });
    }
}
