using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Subscriptions.Api.Tests.Infrastructure;
using Subscriptions.Api.Tests.Webhooks;

namespace Subscriptions.Api.Tests.Admin;

/// <summary>
/// Re-queuing what died while the relay was misconfigured or a receiver was down: the real
/// dispatcher then delivers it to the real MailDev and the real webhook receiver.
/// </summary>
public sealed class DeadLetterTests(ApiFixture fixture, ReceiverFixture receivers) : ApiTest(fixture), IClassFixture<ReceiverFixture>
{
    WebhookReceiver Receiver => receivers.Receiver;

    /// <summary>A signup whose confirmation mail the relay refused for good.</summary>
    async Task DeadConfirmation(string email, string deadFor = "1 hour")
    {
        Assert.Equal(HttpStatusCode.Accepted, (await Client.PostAsJsonAsync("/api/subscriptions", new { email, consent = true })).StatusCode);
        await Fixture.Mail.WaitForMailToAsync(email);
        await Eventually.TrueAsync(() => Scalar<bool>("""
            SELECT bool_and(o.sent_at IS NOT NULL) FROM outbox o
            JOIN subscriptions sub ON sub.id = o.subscription_id JOIN subscribers s ON s.id = sub.subscriber_id WHERE s.email = @email
            """, new { email }), TimeSpan.FromSeconds(10), "the mail is marked sent");
        // as the dispatcher leaves a mail the relay refused with 5xx
        await Execute($"""
            UPDATE outbox o SET sent_at = NULL, dead_at = now() - interval '{deadFor}', attempts = 1, last_error = '550 5.7.1 relay access denied'
            FROM subscriptions sub JOIN subscribers s ON s.id = sub.subscriber_id
            WHERE o.subscription_id = sub.id AND s.email = @email
            """, new { email });
        await Fixture.Mail.ClearAsync();
    }

    static async Task<JsonElement> Retry(HttpClient admin, string filter = "{}")
    {
        var response = await admin.PostAsync("/api/admin/outbox/dead/retry", new StringContent(filter, System.Text.Encoding.UTF8, "application/json"));
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        return JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement;
    }

    [Fact]
    public async Task Dead_mail_is_queued_again_sent_and_recorded_in_the_ledger()
    {
        await DeadConfirmation("dead1@example.org");
        await DeadConfirmation("dead2@example.org");
        using var admin = AdminClient();

        var answer = await Retry(admin);

        Assert.Equal(2, answer.GetProperty("total").GetInt64());
        Assert.Equal(2, answer.GetProperty("byKind").GetProperty("confirmation").GetInt64());
        var mails = await Fixture.Mail.WaitForMessagesAsync(2);
        Assert.Equal(["dead1@example.org", "dead2@example.org"], mails.Select(m => m.To.Mailboxes.Single().Address).Order());
        Assert.Equal(2, await Scalar<long>("SELECT count(*) FROM subscription_events WHERE type = 'requeued' AND reason = 'confirmation' AND source = 'admin'"));
        await Eventually.TrueAsync(() => Scalar<bool>("SELECT count(*) = 2 FROM outbox WHERE sent_at IS NOT NULL AND dead_at IS NULL AND last_error IS NULL"),
            TimeSpan.FromSeconds(10), "both marked sent");
        // nothing is left dead: a second retry finds nothing
        Assert.Equal(0, (await Retry(admin)).GetProperty("total").GetInt64());
    }

    [Fact]
    public async Task A_retry_filtered_by_kind_and_time_takes_only_what_matches()
    {
        await DeadConfirmation("old@example.org", deadFor: "3 days");
        await DeadConfirmation("recent@example.org", deadFor: "1 hour");
        using var admin = AdminClient();
        var since = DateTimeOffset.UtcNow.AddDays(-1).ToString("O");

        Assert.Equal(0, (await Retry(admin, "{\"kind\":\"welcome\"}")).GetProperty("total").GetInt64());
        var answer = await Retry(admin, $"{{\"kind\":\"confirmation\",\"since\":\"{since}\"}}");

        Assert.Equal(1, answer.GetProperty("total").GetInt64());
        var mail = Assert.Single(await Fixture.Mail.WaitForMessagesAsync(1));
        Assert.Equal("recent@example.org", mail.To.Mailboxes.Single().Address);
        Assert.Equal(1, await Scalar<long>("SELECT count(*) FROM outbox WHERE dead_at IS NOT NULL"));
    }

    [Fact]
    public async Task Mail_that_no_longer_makes_sense_stays_dead()
    {
        await DeadConfirmation("left@example.org");
        await DeadConfirmation("bounced@example.org");
        await DeadConfirmation("resent@example.org");
        await Execute("""
            UPDATE subscriptions sub SET status = 'unsubscribed', unsubscribed_at = now()
            FROM subscribers s WHERE s.id = sub.subscriber_id AND s.email = 'left@example.org';
            INSERT INTO suppressions (email, reason, source, suppressed_at) VALUES ('bounced@example.org', 'hard_bounce', 'admin', now());
            INSERT INTO outbox (subscription_id, kind, locale, created_at, due_at, sent_at)
            SELECT sub.id, 'confirmation', 'en', now(), now(), now() FROM subscriptions sub JOIN subscribers s ON s.id = sub.subscriber_id
            WHERE s.email = 'resent@example.org';
            """);
        using var admin = AdminClient();

        Assert.Equal(0, (await Retry(admin)).GetProperty("total").GetInt64());
        Assert.Equal(3, await Scalar<long>("SELECT count(*) FROM outbox WHERE dead_at IS NOT NULL"));
        Assert.Equal(0, await Scalar<long>("SELECT count(*) FROM subscription_events WHERE type = 'requeued'"));
    }

    [Fact]
    public async Task A_dead_webhook_delivery_is_queued_again_and_reaches_the_receiver()
    {
        using var admin = AdminClient();
        await WebhookAdmin.RegisterAsync(admin, Receiver, "dead-letters", events: ["subscription.created"]);
        Assert.Equal(HttpStatusCode.Accepted, (await Client.PostAsJsonAsync("/api/subscriptions", new { email = "hooked@example.org", consent = true })).StatusCode);
        await Receiver.WaitAsync("dead-letters", r => r.Count == 1);
        await Eventually.TrueAsync(() => Scalar<bool>("SELECT bool_and(sent_at IS NOT NULL) FROM outbox WHERE kind = 'webhook'"),
            TimeSpan.FromSeconds(10), "the delivery is marked delivered");
        // as the dispatcher leaves a delivery that failed every attempt
        await Execute("UPDATE outbox SET sent_at = NULL, dead_at = now(), attempts = 10, last_error = 'HTTP 500' WHERE kind = 'webhook'");

        Assert.Equal(0, (await Retry(admin, "{\"kind\":\"reminder\"}")).GetProperty("total").GetInt64());
        var answer = await Retry(admin, "{\"kind\":\"webhook\"}");

        Assert.Equal(1, answer.GetProperty("byKind").GetProperty("webhook").GetInt64());
        var received = await Receiver.WaitAsync("dead-letters", r => r.Count == 2);
        // the same event (the same webhook-id, so a receiver can deduplicate it), verified again
        Assert.Equal(received[0].Id, received[1].Id);
        Assert.True(received[1].Verified);
        Assert.Equal("subscription.created", received[1].Type);
    }

    [Theory]
    [InlineData("")]
    [InlineData("{")]
    [InlineData("[]")]
    [InlineData("{\"kind\":\"sms\"}")]
    [InlineData("{\"kind\":\"Confirmation\"}")]
    [InlineData("{\"kind\":7}")]
    [InlineData("{\"since\":\"yesterday\"}")]
    [InlineData("{\"until\":\"2026-13-01\"}")]
    [InlineData("{\"since\":\"2026-02-01T00:00:00Z\",\"until\":\"2026-01-01T00:00:00Z\"}")]
    public async Task A_malformed_filter_is_a_400_problem_and_changes_nothing(string filter)
    {
        await DeadConfirmation("untouched@example.org");
        using var admin = AdminClient();

        var response = await admin.PostAsync("/api/admin/outbox/dead/retry", new StringContent(filter, System.Text.Encoding.UTF8, "application/json"));

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        Assert.Equal(1, await Scalar<long>("SELECT count(*) FROM outbox WHERE dead_at IS NOT NULL"));
    }
}
