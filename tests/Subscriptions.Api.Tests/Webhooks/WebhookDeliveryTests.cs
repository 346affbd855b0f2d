using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Subscriptions.Api.Tests.Confirmation;
using Subscriptions.Api.Tests.Infrastructure;

namespace Subscriptions.Api.Tests.Webhooks;

/// <summary>
/// Webhooks from the running service to a real receiver, which checks every signature with the
/// Standard Webhooks reference library for JavaScript.
/// </summary>
public sealed class WebhookDeliveryTests(ApiFixture fixture, ReceiverFixture receivers) : ApiTest(fixture), IClassFixture<ReceiverFixture>
{
    WebhookReceiver Receiver => receivers.Receiver;

    static bool Delivered(WebhookReceiver.Received r) => r.Verified && r.Answered == 200;

    async Task<Uri> SignUpAndConfirm(string email, string list = "news")
    {
        Assert.Equal(HttpStatusCode.Accepted, (await Client.PostAsJsonAsync("/api/subscriptions", new { email, consent = true, lists = new[] { list } })).StatusCode);
        var mail = Assert.Single(await Fixture.Mail.WaitForMailToAsync(email));
        var confirmed = await Client.PostAsync(ConfirmationMailTests.ConfirmationLink(mail).PathAndQuery, null);
        Assert.Equal(HttpStatusCode.SeeOther, confirmed.StatusCode);
        using var admin = AdminClient();
        var row = JsonDocument.Parse(await admin.GetStringAsync($"/api/admin/export?format=ndjson&list={list}")).RootElement;
        return new Uri(row.GetProperty("unsubscribe_url").GetString()!);
    }

    [Fact]
    public async Task Every_change_reaches_the_endpoint_once_signed_and_in_the_order_it_happened()
    {
        using var admin = AdminClient();
        await WebhookAdmin.RegisterAsync(admin, Receiver, "lifecycle");

        var unsubscribe = await SignUpAndConfirm("Lifecycle@Example.org");
        Assert.Equal(HttpStatusCode.OK, (await Client.PostAsync(unsubscribe.PathAndQuery, null)).StatusCode);
        // (an erasure deletes what still waits to be delivered about the person: let that arrive first)
        await Receiver.WaitAsync("lifecycle", r => r.Count(Delivered) == 3);
        Assert.Equal(HttpStatusCode.NoContent, (await admin.DeleteAsync("/api/admin/subscribers/lifecycle@example.org")).StatusCode);

        var received = await Receiver.WaitAsync("lifecycle", r => r.Count(Delivered) >= 4);
        await Task.Delay(500); // nothing more should come
        received = await Receiver.ReceivedAsync("lifecycle");

        Assert.All(received, r => Assert.True(Delivered(r), $"{r.Id}: {r.Error}"));
        Assert.Equal(["subscription.created", "subscription.confirmed", "subscription.unsubscribed", "subscriber.erased"], received.Select(r => r.Type));
        Assert.Equal(4, received.Select(r => r.Id).Distinct().Count());

        var created = received[0].Data;
        Assert.Equal("Lifecycle@Example.org", created.GetProperty("email").GetString());
        Assert.Equal("news", created.GetProperty("list").GetString());
        Assert.Equal("pending", created.GetProperty("status").GetString());
        Assert.Equal("127.0.0.1", created.GetProperty("consent").GetProperty("ip").GetString());
        Assert.Equal("1", created.GetProperty("consent").GetProperty("textVersion").GetString());
        Assert.Equal("en", created.GetProperty("consent").GetProperty("textLanguage").GetString());
        Assert.Equal("confirmed", received[1].Data.GetProperty("status").GetString());
        Assert.Equal(JsonValueKind.String, received[1].Data.GetProperty("confirmedAt").ValueKind);
        Assert.Equal("unsubscribed", received[2].Data.GetProperty("status").GetString());

        // the erasure says who by the keyed hash alone, and what was delivered before is gone
        var erased = received[3];
        Assert.DoesNotContain("@", erased.Body.GetRawText(), StringComparison.Ordinal);
        Assert.Equal(32, Convert.FromBase64String(erased.Data.GetProperty("addressHash").GetString()!).Length);
        Assert.Equal(["news"], erased.Data.GetProperty("lists").EnumerateArray().Select(l => l.GetString()));
        Assert.Equal(0, await Scalar<long>("SELECT count(*) FROM outbox WHERE payload::text ILIKE '%lifecycle@%'"));
    }

    [Fact]
    public async Task An_erasure_withdraws_what_was_not_yet_delivered_about_the_person()
    {
        using var admin = AdminClient();
        await WebhookAdmin.RegisterAsync(admin, Receiver, "withdrawn");
        await Execute("UPDATE webhook_endpoints SET paused_until = now() + interval '1 hour'"); // as if it had timed out

        await Client.PostAsJsonAsync("/api/subscriptions", new { email = "withdrawn@example.org", consent = true });
        await admin.DeleteAsync("/api/admin/subscribers/withdrawn@example.org");
        await Execute("UPDATE webhook_endpoints SET paused_until = NULL");
        var received = await Receiver.WaitAsync("withdrawn", r => r.Count(Delivered) >= 1);
        await Task.Delay(500);

        Assert.Equal(["subscriber.erased"], (await Receiver.ReceivedAsync("withdrawn")).Select(r => r.Type));
        Assert.Equal(0, await Scalar<long>("SELECT count(*) FROM outbox WHERE payload::text LIKE '%withdrawn@%'"));
    }

    [Fact]
    public async Task A_receiver_that_answers_500_twice_gets_the_event_on_the_third_attempt()
    {
        using var admin = AdminClient();
        var id = await WebhookAdmin.RegisterAsync(admin, Receiver, "flaky", events: ["subscription.created"], failures: 2);

        await Client.PostAsJsonAsync("/api/subscriptions", new { email = "flaky@example.org", consent = true });
        var received = await Receiver.WaitAsync("flaky", r => r.Any(Delivered));

        Assert.Equal([500, 500, 200], received.Select(r => r.Answered));
        Assert.Single(received.Select(r => r.Id).Distinct()); // the same message, retried
        // the receiver has its answer a moment before the outcome is written
        await Eventually.TrueAsync(async () => await Scalar<bool>($"SELECT bool_and(sent_at IS NOT NULL) FROM outbox WHERE webhook_endpoint_id = {id}"),
            TimeSpan.FromSeconds(5), "the delivery is recorded");
        var delivery = Assert.Single(await admin.GetFromJsonAsync<List<JsonElement>>($"/api/admin/webhooks/{id}/deliveries") ?? []);
        Assert.Equal("delivered", delivery.GetProperty("status").GetString());
        Assert.Equal("subscription.created", delivery.GetProperty("event").GetString());
        Assert.Equal(3, delivery.GetProperty("attempts").GetInt32());
        Assert.StartsWith("500", delivery.GetProperty("lastError").GetString());
    }

    [Fact]
    public async Task One_subscribers_events_wait_behind_a_failed_delivery_so_they_arrive_in_order()
    {
        using var admin = AdminClient();
        await WebhookAdmin.RegisterAsync(admin, Receiver, "ordered", failures: 1);

        var unsubscribe = await SignUpAndConfirm("ordered@example.org");
        await Client.PostAsync(unsubscribe.PathAndQuery, null);
        var received = await Receiver.WaitAsync("ordered", r => r.Count(Delivered) >= 3);

        Assert.Equal(500, received[0].Answered);
        Assert.Equal("subscription.created", received[0].Type);
        Assert.Equal(["subscription.created", "subscription.confirmed", "subscription.unsubscribed"],
            received.Where(Delivered).Select(r => r.Type));
    }

    [Fact]
    public async Task An_endpoint_hears_only_the_events_and_lists_it_asked_for()
    {
        using var admin = AdminClient();
        await admin.PostAsJsonAsync("/api/admin/lists", new { slug = "sport", name = "Sport", consentText = "Yes.", consentTextVersion = "1" });
        await WebhookAdmin.RegisterAsync(admin, Receiver, "sport-confirmations", events: ["subscription.confirmed"], lists: ["sport"]);
        await WebhookAdmin.RegisterAsync(admin, Receiver, "everything");

        await SignUpAndConfirm("news-reader@example.org", "news");
        await Fixture.Mail.ClearAsync();
        await SignUpAndConfirm("sport-reader@example.org", "sport");
        await Receiver.WaitAsync("everything", r => r.Count(Delivered) >= 4);
        await Task.Delay(500);

        var sport = Assert.Single(await Receiver.ReceivedAsync("sport-confirmations"));
        Assert.Equal("subscription.confirmed", sport.Type);
        Assert.Equal("sport-reader@example.org", sport.Data.GetProperty("email").GetString());
    }

    [Fact]
    public async Task A_receiver_that_answers_410_disables_its_endpoint()
    {
        using var admin = AdminClient();
        var id = await WebhookAdmin.RegisterAsync(admin, Receiver, "gone", mode: "gone");

        await Client.PostAsJsonAsync("/api/subscriptions", new { email = "gone1@example.org", consent = true });
        await Receiver.WaitAsync("gone", r => r.Count == 1);
        await Eventually.TrueAsync(async () => await Scalar<bool>("SELECT disabled_at IS NOT NULL FROM webhook_endpoints"),
            TimeSpan.FromSeconds(10), "the endpoint is disabled");
        await Client.PostAsJsonAsync("/api/subscriptions", new { email = "gone2@example.org", consent = true });
        await Task.Delay(1500);

        Assert.Single(await Receiver.ReceivedAsync("gone"));
        var endpoint = Assert.Single(await admin.GetFromJsonAsync<List<JsonElement>>("/api/admin/webhooks") ?? []);
        Assert.Equal(JsonValueKind.String, endpoint.GetProperty("disabledAt").ValueKind);
        Assert.False(endpoint.TryGetProperty("secret", out _));
        var delivery = Assert.Single(await admin.GetFromJsonAsync<List<JsonElement>>($"/api/admin/webhooks/{id}/deliveries") ?? []);
        Assert.Equal("dead", delivery.GetProperty("status").GetString());
    }
}
