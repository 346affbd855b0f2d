using System.Diagnostics;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Subscriptions.Api.Tests.Infrastructure;

namespace Subscriptions.Api.Tests.Webhooks;

/// <summary>Receivers that hang or keep failing, and several instances: each test has its own database and services.</summary>
public sealed class WebhookFaultTests(ApiFixture fixture, ReceiverFixture receivers) : OwnDatabaseTest(fixture), IClassFixture<ReceiverFixture>
{
    WebhookReceiver Receiver => receivers.Receiver;

    static bool Delivered(WebhookReceiver.Received r) => r.Verified && r.Answered == 200;

    static HttpClient Admin(SubscriptionsApp app)
    {
        var client = app.CreateHttpClient();
        client.DefaultRequestHeaders.Authorization = new("Bearer", ApiFixture.AdminKey);
        return client;
    }

    [Fact]
    public async Task A_receiver_that_hangs_holds_neither_the_workers_nor_the_other_endpoints()
    {
        await using var app = StartApp(null, ("Webhooks:Timeout", "00:00:01"), ("Smtp:Timeout", "00:00:02"), ("Outbox:Lease", "00:00:05"));
        using var admin = Admin(app);
        var hanging = await WebhookAdmin.RegisterAsync(admin, Receiver, "hangs", events: ["subscription.created"], mode: "hang");
        await WebhookAdmin.RegisterAsync(admin, Receiver, "answers", events: ["subscription.created"]);

        await SignUp(app, Addresses(20, "hang"));
        var answered = await Receiver.WaitAsync("answers", r => r.Count(Delivered) == 20, TimeSpan.FromSeconds(20));

        Assert.Equal(20, answered.Select(r => r.Id).Distinct().Count());
        var deliveries = await admin.GetFromJsonAsync<List<JsonElement>>($"/api/admin/webhooks/{hanging}/deliveries") ?? [];
        Assert.Contains(deliveries, d => d.GetProperty("lastError").GetString() == "no answer within Webhooks__Timeout");
        Assert.DoesNotContain(deliveries, d => d.GetProperty("status").GetString() == "delivered");
        app.AssertNoErrorsLogged();
    }

    [Theory]
    [InlineData(503)] // down behind its proxy
    [InlineData(429)] // asking for less
    public async Task A_receiver_that_says_it_is_unavailable_is_left_alone_for_the_retry_delay_and_its_events_keep_their_attempts(int status)
    {
        var retryDelay = TimeSpan.FromSeconds(1);
        await using var app = StartApp(null, ("Outbox:WebhookWorkers", "2"), ("Outbox:WebhookConcurrency", "1"), ("Outbox:BatchSize", "10"),
            ("Outbox:MaxAttempts", "1000"), ("Outbox:RetryBaseDelay", "00:00:01"), ("Outbox:RetryMaxDelay", "00:00:02"));
        using var admin = Admin(app);
        var name = $"unavailable-{status}";
        await WebhookAdmin.RegisterAsync(admin, Receiver, name, events: ["subscription.created"], failures: int.MaxValue, status: status);
        var emails = Addresses(100, name); // ten batches

        var start = Stopwatch.GetTimestamp();
        await SignUp(app, emails);
        await Receiver.WaitAsync(name, r => r.Count > 0);
        await Task.Delay(TimeSpan.FromSeconds(3));
        var tried = (await Receiver.ReceivedAsync(name)).Count;

        // each worker's first attempt, then one per pause (and one more, for timers' slack)
        Assert.InRange(tried, 1, 2 * (Stopwatch.GetElapsedTime(start) / retryDelay + 2));
        Assert.Equal(0, await Scalar<long>("SELECT count(*) FROM outbox WHERE kind = 'webhook' AND (sent_at IS NOT NULL OR dead_at IS NOT NULL)"));

        await Receiver.RecoverAsync(name);
        var received = await Receiver.WaitAsync(name, r => r.Count(Delivered) == 100, TimeSpan.FromSeconds(60));
        Assert.Equal(emails.Order(), received.Where(Delivered).Select(r => r.Data.GetProperty("email").GetString()).Order());
        app.AssertNoErrorsLogged();
    }

    [Fact]
    public async Task A_receivers_retry_after_is_honoured_within_the_outbox_retry_delays()
    {
        await using var app = StartApp(null, ("Outbox:RetryMaxDelay", "00:00:10"));
        using var admin = Admin(app);
        await WebhookAdmin.RegisterAsync(admin, Receiver, "retry-after", events: ["subscription.created"], failures: 1, status: 503, retryAfter: 3);

        await SignUp(app, ["retry-after@example.org"]);
        var received = await Receiver.WaitAsync("retry-after", r => r.Any(Delivered), TimeSpan.FromSeconds(30));

        Assert.Equal([503, 200], received.Select(r => r.Answered));
        // the event's own backoff was 0.2 s (Outbox__RetryBaseDelay here): the endpoint waited the 3 s it asked for
        Assert.InRange(received[1].At - received[0].At, 3_000, 10_000);
        app.AssertNoErrorsLogged();
    }

    [Fact]
    public async Task A_dead_delivery_is_delivered_when_an_editor_retries_it()
    {
        await using var app = StartApp(null, ("Outbox:MaxAttempts", "1"));
        using var admin = Admin(app);
        var id = await WebhookAdmin.RegisterAsync(admin, Receiver, "dies", events: ["subscription.created"], failures: 1, status: 503);

        await SignUp(app, ["dead-letter@example.org"]);
        await WaitUntil("SELECT count(*) = 1 FROM outbox WHERE kind = 'webhook' AND dead_at IS NOT NULL", TimeSpan.FromSeconds(20));
        var dead = Assert.Single(await admin.GetFromJsonAsync<List<JsonElement>>($"/api/admin/webhooks/{id}/deliveries") ?? []);
        Assert.Equal("dead", dead.GetProperty("status").GetString());
        Assert.StartsWith("503", dead.GetProperty("lastError").GetString());

        var deliveryId = dead.GetProperty("id").GetInt64();
        Assert.Equal(HttpStatusCode.Accepted, (await admin.PostAsync($"/api/admin/webhooks/{id}/deliveries/{deliveryId}/retry", null)).StatusCode);
        var received = await Receiver.WaitAsync("dies", r => r.Any(Delivered));

        Assert.Equal([503, 200], received.Select(r => r.Answered));
        Assert.Equal(HttpStatusCode.Conflict, (await admin.PostAsync($"/api/admin/webhooks/{id}/deliveries/{deliveryId}/retry", null)).StatusCode);
        app.AssertNoErrorsLogged();
    }

    [Fact]
    public async Task Events_that_cannot_be_delivered_yet_do_not_keep_the_workers_polling()
    {
        // a failed delivery comes due again 10 to 20 s later; no mail workers beside the webhook ones
        await using var app = StartApp(null, ("Outbox:RetryBaseDelay", "00:00:20"), ("Outbox:RetryMaxDelay", "00:00:20"), ("Smtp:Host", null));
        using var admin = Admin(app);
        await admin.PostAsJsonAsync("/api/admin/lists", new { slug = "second", name = "Second", consentText = "Yes.", consentTextVersion = "1" });
        await WebhookAdmin.RegisterAsync(admin, Receiver, "behind", events: ["subscription.created"], failures: 1);
        await WebhookAdmin.RegisterAsync(admin, Receiver, "paused", events: ["subscription.created"]);
        await Execute("UPDATE webhook_endpoints SET paused_until = now() + interval '1 hour' WHERE url LIKE '%/paused'");

        // two events about one subscriber for each endpoint: "behind" fails the first, and the
        // second waits behind it; "paused" gets neither until its pause ends
        using (var client = app.CreateHttpClient())
        {
            await client.PostAsJsonAsync("/api/subscriptions", new { email = "waiting@example.org", consent = true, lists = new[] { "news", "second" } });
        }

        await Receiver.WaitAsync("behind", r => r.Count == 1);
        await Task.Delay(TimeSpan.FromSeconds(1));
        var before = await Scalar<long>("SELECT xact_commit FROM pg_stat_database WHERE datname = current_database()");
        await Task.Delay(TimeSpan.FromSeconds(5));
        var perSecond = (await Scalar<long>("SELECT xact_commit FROM pg_stat_database WHERE datname = current_database()") - before) / 5.0;

        // four workers waking once an Outbox__PollInterval (1 s here) make about ten; each polling every 10 ms, hundreds
        Assert.True(perSecond < 50, $"{perSecond:0} transactions a second while nothing could be delivered");
        Assert.Equal(4, await Scalar<long>("SELECT count(*) FROM outbox WHERE kind = 'webhook' AND sent_at IS NULL"));
        Assert.Single(await Receiver.ReceivedAsync("behind"));
        app.AssertNoErrorsLogged();
    }

    [Fact]
    public async Task Two_instances_deliver_each_event_once()
    {
        await using var first = StartApp();
        await using var second = StartApp();
        using var admin = Admin(first);
        await WebhookAdmin.RegisterAsync(admin, Receiver, "twice", events: ["subscription.created"]);
        var emails = Addresses(60, "twice-hook");

        await Task.WhenAll(SignUp(first, emails[..30]), SignUp(second, emails[30..]));
        await WaitUntil("SELECT count(*) = 60 FROM outbox WHERE kind = 'webhook' AND sent_at IS NOT NULL", TimeSpan.FromSeconds(30));
        await Task.Delay(500);

        var received = await Receiver.ReceivedAsync("twice");
        Assert.All(received, r => Assert.True(Delivered(r), r.Error));
        Assert.Equal(60, received.Count);
        Assert.Equal(emails.Order(), received.Select(r => r.Data.GetProperty("email").GetString()).Order());
        first.AssertNoErrorsLogged();
        second.AssertNoErrorsLogged();
    }
}
