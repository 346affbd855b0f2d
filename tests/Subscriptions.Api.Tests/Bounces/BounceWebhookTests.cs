using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Subscriptions.Api.Tests.Confirmation;
using Subscriptions.Api.Tests.Infrastructure;
using Subscriptions.Api.Tests.Webhooks;
using static Subscriptions.Api.Tests.Bounces.ProviderFixtures;

namespace Subscriptions.Api.Tests.Bounces;

/// <summary>
/// Each provider's webhook as the provider sends it (documented examples, signed by openssl):
/// valid, mis-signed, replayed, malformed, about an unknown address, and the same event twice.
/// </summary>
public sealed class BounceWebhookTests(ApiFixture fixture, ReceiverFixture receivers) : ApiTest(fixture), IClassFixture<ReceiverFixture>
{
    const string Address = "bounced@example.org";

    async Task SignUpAndConfirm(string email = Address)
    {
        Assert.Equal(HttpStatusCode.Accepted, (await Client.PostAsJsonAsync("/api/subscriptions", new { email, consent = true })).StatusCode);
        var mail = Assert.Single(await Fixture.Mail.WaitForMailToAsync(email));
        Assert.Equal(HttpStatusCode.SeeOther, (await Client.PostAsync(ConfirmationMailTests.ConfirmationLink(mail).PathAndQuery, null)).StatusCode);
    }

    async Task<HttpStatusCode> Send(HttpRequestMessage request)
    {
        using (request)
        {
            using var response = await Client.SendAsync(request);
            if ((int)response.StatusCode >= 400)
            {
                Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
            }

            return response.StatusCode;
        }
    }

    Task<long> Suppressions() => Scalar<long>("SELECT count(*) FROM suppressions");

    Task<long> Stored() => Scalar<long>("SELECT (SELECT count(*) FROM suppressions) + (SELECT count(*) FROM bounce_events) + (SELECT count(*) FROM bounce_webhook_nonces)");

    async Task AssertSuppressed(string reason, string status, string source)
    {
        using var admin = AdminClient();
        var row = Assert.Single((await admin.GetFromJsonAsync<JsonElement>("/api/admin/suppressions")).EnumerateArray());
        Assert.Equal(Address, row.GetProperty("email").GetString());
        Assert.Equal(reason, row.GetProperty("reason").GetString());
        Assert.Equal(source, row.GetProperty("source").GetString());
        var export = Json((await admin.GetStringAsync("/api/admin/export?format=ndjson")).Trim());
        Assert.Equal(status, export.GetProperty("status").GetString());
        Assert.Equal(reason, export.GetProperty("suppressed_reason").GetString());
    }

    // Postmark

    [Fact]
    public async Task Postmark_bounce_suppresses_the_address_and_leaves_the_subscription()
    {
        await SignUpAndConfirm();
        Assert.Equal(HttpStatusCode.NoContent, await Send(Postmark(PostmarkBounce(Address))));
        await AssertSuppressed("hard_bounce", "confirmed", "postmark");
        Assert.Equal("postmark:Bounce:4323372036854775807", await Scalar<string>("SELECT provider_event_id FROM suppressions"));
    }

    [Fact]
    public async Task Postmark_complaint_ends_the_confirmed_subscription_and_the_endpoints_hear_of_it()
    {
        using var admin = AdminClient();
        await WebhookAdmin.RegisterAsync(admin, receivers.Receiver, "postmark-complaint");
        await SignUpAndConfirm();

        Assert.Equal(HttpStatusCode.NoContent, await Send(Postmark(PostmarkComplaint(Address))));

        await AssertSuppressed("complaint", "unsubscribed", "postmark");
        var received = await receivers.Receiver.WaitAsync("postmark-complaint", r => r.Count(d => d.Verified && d.Answered == 200) >= 4);
        Assert.Equal(["subscription.created", "subscription.confirmed", "subscription.unsubscribed", "subscriber.suppressed"], received.Select(r => r.Type));
        Assert.Equal("complaint", received[3].Data.GetProperty("reason").GetString());
        Assert.Equal("postmark", received[3].Data.GetProperty("source").GetString());
    }

    [Fact]
    public async Task Postmark_with_wrong_or_no_credentials_is_refused_and_stores_nothing()
    {
        await SignUpAndConfirm();
        Assert.Equal(HttpStatusCode.Unauthorized, await Send(Postmark(PostmarkBounce(Address), ProviderSigning.PostmarkAuthorization(password: "wrong"))));
        Assert.Equal(HttpStatusCode.Unauthorized, await Send(Postmark(PostmarkBounce(Address), ProviderSigning.PostmarkAuthorization(user: "someone"))));
        Assert.Equal(HttpStatusCode.Unauthorized, await Send(Postmark(PostmarkBounce(Address), "Bearer " + ProviderSigning.PostmarkPassword)));
        Assert.Equal(HttpStatusCode.Unauthorized, await Send(Postmark(PostmarkBounce(Address), "")));
        Assert.Equal(0, await Stored());
    }

    [Fact]
    public async Task Postmark_replayed_or_duplicate_event_suppresses_once_and_malformed_or_unknown_stores_nothing()
    {
        await SignUpAndConfirm();
        Assert.Equal(HttpStatusCode.NoContent, await Send(Postmark(PostmarkBounce(Address))));
        Assert.Equal(HttpStatusCode.NoContent, await Send(Postmark(PostmarkBounce(Address))));
        Assert.Equal(1, await Suppressions());
        Assert.Equal(1, await Scalar<long>("SELECT count(*) FROM bounce_events"));

        Assert.Equal(HttpStatusCode.BadRequest, await Send(Postmark(PostmarkBounce(Address)[..40])));
        Assert.Equal(HttpStatusCode.BadRequest, await Send(Postmark("[]")));
        Assert.Equal(HttpStatusCode.BadRequest, await Send(Postmark("""{"RecordType":"Bounce","Email":"x@example.org"}""")));
        Assert.Equal(HttpStatusCode.NoContent, await Send(Postmark(PostmarkBounce("stranger@example.org", id: 7))));
        Assert.Equal(2, await Stored());
    }

    [Fact]
    public async Task Postmark_soft_bounces_suppress_only_past_the_limit()
    {
        await SignUpAndConfirm();
        for (var id = 1; id <= 2; id++)
        {
            Assert.Equal(HttpStatusCode.NoContent, await Send(Postmark(PostmarkBounce(Address, id, "SoftBounce", 4096))));
        }

        Assert.Equal(0, await Suppressions());
        Assert.Equal(HttpStatusCode.NoContent, await Send(Postmark(PostmarkBounce(Address, 3, "SoftBounce", 4096))));
        await AssertSuppressed("repeated_soft_bounce", "confirmed", "postmark");
    }

    // Mailgun

    [Fact]
    public async Task Mailgun_permanent_failure_suppresses_and_a_complaint_ends_the_subscription()
    {
        await SignUpAndConfirm();
        Assert.Equal(HttpStatusCode.NoContent, await Send(Mailgun(MailgunEvent(Address, outboxId: "12"))));
        await AssertSuppressed("hard_bounce", "confirmed", "mailgun");
        Assert.Equal(12, await Scalar<long>("SELECT outbox_id FROM suppressions"));

        Assert.Equal(HttpStatusCode.NoContent, await Send(Mailgun(MailgunEvent(Address, "complaint-1", "complained"))));
        await AssertSuppressed("complaint", "unsubscribed", "mailgun");
    }

    [Fact]
    public async Task Mailgun_wrong_signature_stale_timestamp_and_reused_token_are_refused()
    {
        await SignUpAndConfirm();
        var timestamp = ProviderSigning.UnixNow();
        Assert.Equal(HttpStatusCode.Unauthorized, await Send(Mailgun(MailgunEvent(Address, timestamp: timestamp, token: "t" + new string('a', 49),
            signature: ProviderSigning.MailgunSignature(timestamp, "t" + new string('a', 49), "key-wrong")))));
        Assert.Equal(HttpStatusCode.Unauthorized, await Send(Mailgun(MailgunEvent(Address, signature: new string('0', 64)))));
        Assert.Equal(HttpStatusCode.Unauthorized, await Send(Mailgun(MailgunEvent(Address, timestamp: ProviderSigning.UnixNow(TimeSpan.FromMinutes(-30))))));
        Assert.Equal(0, await Stored());

        var once = MailgunEvent(Address, "soft-1", severity: "temporary");
        Assert.Equal(HttpStatusCode.NoContent, await Send(Mailgun(once)));
        Assert.Equal(HttpStatusCode.Unauthorized, await Send(Mailgun(once))); // the token was used
        Assert.Equal(1, await Scalar<long>("SELECT count(*) FROM bounce_events"));
        Assert.Equal(0, await Suppressions());
    }

    [Fact]
    public async Task Mailgun_duplicate_event_malformed_body_and_unknown_address()
    {
        await SignUpAndConfirm();
        Assert.Equal(HttpStatusCode.NoContent, await Send(Mailgun(MailgunEvent(Address, "same-event"))));
        Assert.Equal(HttpStatusCode.NoContent, await Send(Mailgun(MailgunEvent(Address, "same-event")))); // a fresh token, the same event
        Assert.Equal(1, await Scalar<long>("SELECT count(*) FROM bounce_events"));
        Assert.Equal(HttpStatusCode.BadRequest, await Send(Mailgun("{\"signature\":")));
        Assert.Equal(HttpStatusCode.Unauthorized, await Send(Mailgun("""{"event-data":{"event":"failed"}}""")));
        Assert.Equal(HttpStatusCode.NoContent, await Send(Mailgun(MailgunEvent("stranger@example.org", "other-event"))));
        Assert.Equal(0, await Scalar<long>("SELECT count(*) FROM bounce_events WHERE email = 'stranger@example.org'"));
    }

    // SendGrid

    [Fact]
    public async Task SendGrid_bounce_suppresses_and_a_spam_report_ends_the_subscription()
    {
        await SignUpAndConfirm();
        Assert.Equal(HttpStatusCode.NoContent, await Send(SendGrid(SendGridEvents(Address))));
        await AssertSuppressed("hard_bounce", "confirmed", "sendgrid");
        Assert.Equal(HttpStatusCode.NoContent, await Send(SendGrid(SendGridSpamReport(Address))));
        await AssertSuppressed("complaint", "unsubscribed", "sendgrid");
    }

    [Fact]
    public async Task SendGrid_wrong_signature_stale_timestamp_and_unsigned_are_refused()
    {
        await SignUpAndConfirm();
        var body = SendGridEvents(Address);
        var timestamp = ProviderSigning.UnixNow();
        var signature = ProviderSigning.SendGridSignature(timestamp, System.Text.Encoding.UTF8.GetBytes(body));
        Assert.Equal(HttpStatusCode.Unauthorized, await Send(SendGrid(body.Replace("bounce\"", "bounce \"", StringComparison.Ordinal), timestamp, signature)));
        Assert.Equal(HttpStatusCode.Unauthorized, await Send(SendGrid(body, ProviderSigning.UnixNow(TimeSpan.FromSeconds(1)) + "0", signature)));
        Assert.Equal(HttpStatusCode.Unauthorized, await Send(SendGrid(body, timestamp, "not base64!")));
        var stale = ProviderSigning.UnixNow(TimeSpan.FromHours(-1));
        Assert.Equal(HttpStatusCode.Unauthorized, await Send(SendGrid(body, stale)));
        using var unsigned = new HttpRequestMessage(HttpMethod.Post, Route + "sendgrid") { Content = new StringContent(body, System.Text.Encoding.UTF8, "application/json") };
        Assert.Equal(HttpStatusCode.Unauthorized, await Send(unsigned));
        Assert.Equal(0, await Stored());
    }

    [Fact]
    public async Task SendGrid_replayed_batch_changes_nothing_and_malformed_or_unknown_stores_nothing()
    {
        await SignUpAndConfirm();
        var body = SendGridEvents(Address);
        var timestamp = ProviderSigning.UnixNow();
        var signature = ProviderSigning.SendGridSignature(timestamp, System.Text.Encoding.UTF8.GetBytes(body));
        Assert.Equal(HttpStatusCode.NoContent, await Send(SendGrid(body, timestamp, signature)));
        Assert.Equal(HttpStatusCode.NoContent, await Send(SendGrid(body, timestamp, signature))); // replayed within the window: the same events
        Assert.Equal(1, await Suppressions());
        Assert.Equal(1, await Scalar<long>("SELECT count(*) FROM bounce_events"));

        Assert.Equal(HttpStatusCode.BadRequest, await Send(SendGrid("{\"event\":\"bounce\"}")));
        Assert.Equal(HttpStatusCode.BadRequest, await Send(SendGrid("[1, 2]")));
        Assert.Equal(HttpStatusCode.BadRequest, await Send(SendGrid(body[..50])));
        Assert.Equal(HttpStatusCode.NoContent, await Send(SendGrid(SendGridEvents("stranger@example.org", "other"))));
        Assert.Equal(0, await Scalar<long>("SELECT count(*) FROM bounce_events WHERE email = 'stranger@example.org'"));
    }

    // SES through SNS

    [Fact]
    public async Task Ses_bounce_and_complaint_through_signed_sns_notifications()
    {
        using var sns = new SnsServer();
        await SignUpAndConfirm();

        Assert.Equal(HttpStatusCode.NoContent, await Send(Ses(SnsNotification(sns, SesBounce(Address)))));
        await AssertSuppressed("hard_bounce", "confirmed", "ses");
        Assert.Equal(77, await Scalar<long>("SELECT outbox_id FROM suppressions"));
        Assert.Equal(HttpStatusCode.NoContent, await Send(Ses(SnsNotification(sns, SesComplaint(Address), messageId: "m-2", version: 1))));
        await AssertSuppressed("complaint", "unsubscribed", "ses");
        Assert.Equal(1, sns.CertificateFetches); // kept after the first fetch
    }

    [Fact]
    public async Task Ses_wrong_signature_foreign_topic_or_certificate_host_and_stale_messages_are_refused()
    {
        using var sns = new SnsServer();
        await SignUpAndConfirm();
        var bounce = SesBounce(Address);
        var forged = Json(SnsNotification(sns, bounce));
        var tampered = SnsNotification(sns, bounce, signature: forged.GetProperty("Signature").GetString()).Replace("Permanent", "Transient", StringComparison.Ordinal);

        Assert.Equal(HttpStatusCode.Unauthorized, await Send(Ses(tampered)));
        Assert.Equal(HttpStatusCode.Unauthorized, await Send(Ses(SnsNotification(sns, bounce, signature: Convert.ToBase64String(new byte[256])))));
        Assert.Equal(HttpStatusCode.Unauthorized, await Send(Ses(SnsNotification(sns, bounce, topic: "arn:aws:sns:us-east-1:999999999999:other"))));
        Assert.Equal(HttpStatusCode.Unauthorized, await Send(Ses(SnsNotification(sns, bounce, certificateUrl: "https://sns.evil.example/SimpleNotificationService-x.pem"))));
        Assert.Equal(HttpStatusCode.Unauthorized, await Send(Ses(SnsNotification(sns, bounce, timestamp: DateTimeOffset.UtcNow.AddHours(-2)))));
        Assert.Equal(0, await Stored());
    }

    [Fact]
    public async Task Ses_duplicate_notification_malformed_body_and_unknown_address()
    {
        using var sns = new SnsServer();
        await SignUpAndConfirm();
        var notification = SnsNotification(sns, SesBounce(Address, bounceType: "Transient"));
        Assert.Equal(HttpStatusCode.NoContent, await Send(Ses(notification)));
        Assert.Equal(HttpStatusCode.NoContent, await Send(Ses(notification))); // SNS retries with the same message
        Assert.Equal(1, await Scalar<long>("SELECT count(*) FROM bounce_events"));
        Assert.Equal(0, await Suppressions());

        Assert.Equal(HttpStatusCode.BadRequest, await Send(Ses("Type=Notification")));
        Assert.Equal(HttpStatusCode.BadRequest, await Send(Ses(SnsNotification(sns, "not json"))));
        Assert.Equal(HttpStatusCode.NoContent, await Send(Ses(SnsNotification(sns, SesBounce("stranger@example.org", "f-2")))));
        Assert.Equal(0, await Scalar<long>("SELECT count(*) FROM bounce_events WHERE email = 'stranger@example.org'"));
    }

    [Fact]
    public async Task Ses_subscription_confirmation_is_verified_and_confirmed()
    {
        using var sns = new SnsServer();
        Assert.Equal(HttpStatusCode.NoContent, await Send(Ses(SnsSubscriptionConfirmation(sns))));
        var query = Assert.Single(sns.Confirmations);
        Assert.Contains("Token=2336412f37fb", query, StringComparison.Ordinal);

        var forged = SnsSubscriptionConfirmation(sns, "forged").Replace("forged\"", "forged2\"", StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.Unauthorized, await Send(Ses(forged)));
        Assert.Single(sns.Confirmations);
    }

    // every provider

    [Theory]
    [InlineData("postmark", "Bounces:Postmark:Username", "Bounces:Postmark:Password")]
    [InlineData("mailgun", "Bounces:Mailgun:SigningKey", null)]
    [InlineData("sendgrid", "Bounces:SendGrid:PublicKey", null)]
    [InlineData("ses", "Bounces:Ses:TopicArns:0", null)]
    public async Task A_provider_without_credentials_refuses_everything(string provider, string setting, string? other)
    {
        using var sns = new SnsServer();
        await using var app = Fixture.StartApp((setting, null), (other ?? setting, null));
        using var client = app.CreateHttpClient();
        using var request = provider switch
        {
            "postmark" => Postmark(PostmarkBounce(Address)),
            "mailgun" => Mailgun(MailgunEvent(Address)),
            "sendgrid" => SendGrid(SendGridEvents(Address)),
            _ => Ses(SnsNotification(sns, SesBounce(Address))),
        };
        var response = await client.SendAsync(request);
        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        Assert.Equal(0, await Stored());
    }

    [Fact]
    public async Task An_unknown_provider_is_not_found()
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, Route + "sparkpost") { Content = new StringContent("{}") };
        Assert.Equal(HttpStatusCode.NotFound, await Send(request));
    }

    [Fact]
    public async Task The_dispatcher_sends_nothing_more_to_an_address_a_provider_suppressed()
    {
        Assert.Equal(HttpStatusCode.Accepted, (await Client.PostAsJsonAsync("/api/subscriptions", new { email = Address, consent = true })).StatusCode);
        await Fixture.Mail.WaitForMailToAsync(Address);
        Assert.Equal(HttpStatusCode.NoContent, await Send(Postmark(PostmarkBounce(Address))));

        await Execute("INSERT INTO outbox (subscription_id, kind, locale, created_at, due_at) SELECT id, 'reminder', 'en', now(), now() FROM subscriptions");
        await Eventually.TrueAsync(() => Scalar<bool>("SELECT dead_at IS NOT NULL FROM outbox WHERE kind = 'reminder'"), TimeSpan.FromSeconds(15), "dead-lettered");
        Assert.Single(await Fixture.Mail.RecipientsAsync());
        await Fixture.Mail.ClearAsync();

        // and a repeat signup answers as ever and sends nothing
        Assert.Equal(HttpStatusCode.Accepted, (await Client.PostAsJsonAsync("/api/subscriptions", new { email = Address, consent = true })).StatusCode);
        Assert.Equal(HttpStatusCode.Accepted, (await Client.PostAsJsonAsync("/api/subscriptions", new { email = "other@example.org", consent = true })).StatusCode);
        await Fixture.Mail.WaitForMailToAsync("other@example.org");
        await Task.Delay(300);
        Assert.Equal(["other@example.org"], await Fixture.Mail.RecipientsAsync());
    }
}
