using Subscriptions.Api.Tests.Infrastructure;
using Subscriptions.Api.Tests.Webhooks;
using Xunit.Abstractions;

namespace Subscriptions.Api.Tests.Outbox;

/// <summary>
/// A burst of webhook events after the outbox was empty and vacuumed (a new installation, a queue
/// the retention job emptied). The workers' claims are prepared statements; polling the empty
/// outbox, each connection ran its claim more than five times, and PostgreSQL then keeps one
/// generic plan per connection, made for an empty table: it read the whole outbox in the claim's
/// "oldest waiting event of this subscriber" look, for every waiting event, in every claim (the
/// harness's 10,000-event rounds: claims cut off by the 30 s command timeout). Claims are now
/// planned for the outbox as it is when they run.
/// </summary>
public sealed class BurstAfterQuietTests(ApiFixture fixture, ReceiverFixture receivers, ITestOutputHelper output) : OwnDatabaseTest(fixture), IClassFixture<ReceiverFixture>
{
    const int Events = 3_000;

    [Fact]
    public async Task Webhook_claims_planned_on_an_empty_outbox_do_not_read_it_once_per_event_of_a_burst()
    {
        await using var app = StartApp(overrides: ("Outbox:PollInterval", "00:00:00.050"));
        using var admin = app.CreateHttpClient();
        admin.DefaultRequestHeaders.Authorization = new("Bearer", ApiFixture.AdminKey);
        await WebhookAdmin.RegisterAsync(admin, receivers.Receiver, "burst", events: ["subscription.created"]);
        await Execute("VACUUM ANALYZE outbox");

        // The idle workers claim and look again every 50 ms, each statement scanning the outbox:
        // well past the five runs after which a connection keeps a generic plan.
        await Eventually.TrueAsync(() => Scalar<bool>("SELECT seq_scan + coalesce(idx_scan, 0) > 1000 FROM pg_stat_user_tables WHERE relname = 'outbox'"),
            TimeSpan.FromSeconds(30), "the idle workers' polls");
        var readBefore = await Scalar<long>("SELECT seq_tup_read FROM pg_stat_user_tables WHERE relname = 'outbox'");

        await Execute($"""
            INSERT INTO outbox (kind, webhook_endpoint_id, ordering_key, payload, created_at, due_at)
            SELECT 'webhook', (SELECT id FROM webhook_endpoints), i,
                   jsonb_build_object('type', 'subscription.created', 'timestamp', now(), 'data', jsonb_build_object('email', 'b' || i || '@example.org')),
                   now(), now()
            FROM generate_series(1, {Events}) AS i
            """);
        await WaitUntil($"SELECT count(*) = {Events} FROM outbox WHERE sent_at IS NOT NULL", TimeSpan.FromSeconds(90));
        app.AssertNoErrorsLogged();
        await app.DisposeAsync(); // its connections close and their backends report what they read
        await Eventually.TrueAsync(() => Scalar<bool>("SELECT count(*) = 0 FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()"),
            TimeSpan.FromSeconds(10), "the service's connections to close");

        // Rows read by sequential scans of the outbox while the burst went out. The generic plan read
        // the table once per waiting event in every claim: ~Events² (9,000,000) in the first claim alone.
        var read = await Scalar<long>("SELECT seq_tup_read FROM pg_stat_user_tables WHERE relname = 'outbox'") - readBefore;
        output.WriteLine($"{Events} events: {read} rows read by sequential scans of the outbox");
        Assert.InRange(read, 0, 100L * Events);
        Assert.Equal(Events, (await receivers.Receiver.ReceivedAsync("burst")).Count(r => r.Verified));
    }
}
