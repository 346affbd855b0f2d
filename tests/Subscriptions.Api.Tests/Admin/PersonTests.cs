using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;
using Subscriptions.Api.Tests.Confirmation;
using Subscriptions.Api.Tests.Infrastructure;

namespace Subscriptions.Api.Tests.Admin;

/// <summary>An editor answering an access request, and re-sending a confirmation, against the real PostgreSQL and MailDev.</summary>
public class PersonTests(ApiFixture fixture) : ApiTest(fixture)
{
    async Task SignUp(string email, params string[] lists)
    {
        var response = await Client.PostAsJsonAsync("/api/subscriptions", new
        {
            email, consent = true, name = "Ann Example", locale = "de-DE", lists, source = "https://news.example/page",
        });
        Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
    }

    [Fact]
    public async Task The_person_document_holds_subscriber_subscriptions_with_evidence_ledger_and_mails_but_no_token()
    {
        await Execute("INSERT INTO lists (slug, name, consent_text, consent_text_version) VALUES ('sport', 'Sport', 'ok', 's-1')");
        await SignUp("Ann@Example.org", "news", "sport");
        var links = (await Fixture.Mail.WaitForMailToAsync("Ann@Example.org", 2)).Select(ConfirmationMailTests.ConfirmationLink).ToList();
        foreach (var link in links)
        {
            Assert.Equal(HttpStatusCode.SeeOther, (await Client.PostAsync(link.PathAndQuery, null)).StatusCode);
        }

        await Eventually.TrueAsync(() => Scalar<bool>("SELECT bool_and(sent_at IS NOT NULL) FROM outbox"), TimeSpan.FromSeconds(10), "mail sent");

        using var admin = AdminClient();
        var response = await admin.GetAsync("/api/admin/subscribers/ANN%40example.org");

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var body = await response.Content.ReadAsStringAsync();
        var document = JsonDocument.Parse(body).RootElement;
        var subscriber = document.GetProperty("subscriber");
        Assert.Equal("ann@example.org", subscriber.GetProperty("email").GetString());
        Assert.Equal("Ann@Example.org", subscriber.GetProperty("emailAsTyped").GetString());
        Assert.Equal("Ann Example", subscriber.GetProperty("name").GetString());
        var subscriptions = document.GetProperty("subscriptions").EnumerateArray().ToList();
        Assert.Equal(["news", "sport"], subscriptions.Select(s => s.GetProperty("list").GetString()));
        Assert.All(subscriptions, s => Assert.Equal("confirmed", s.GetProperty("status").GetString()));
        var consent = subscriptions[1].GetProperty("consent");
        Assert.Equal("127.0.0.1", consent.GetProperty("ip").GetString());
        Assert.Equal("https://news.example/page", consent.GetProperty("source").GetString());
        Assert.Equal("s-1", consent.GetProperty("textVersion").GetString());
        var ledger = document.GetProperty("ledger").EnumerateArray().Select(e => e.GetProperty("type").GetString()).ToList();
        Assert.Equal(2, ledger.Count(t => t == "signup"));
        Assert.Equal(2, ledger.Count(t => t == "confirmed"));
        var mails = document.GetProperty("mails").EnumerateArray().ToList();
        Assert.Contains(mails, m => m.GetProperty("kind").GetString() == "confirmation" && m.GetProperty("status").GetString() == "sent"
            && m.GetProperty("sentAt").ValueKind == JsonValueKind.String);
        // the confirmation link's secret is nowhere in it
        Assert.All(links, link => Assert.DoesNotContain(link.Segments[^1], body, StringComparison.Ordinal));
        Assert.DoesNotContain("token", body, StringComparison.OrdinalIgnoreCase);
    }

    [Fact]
    public async Task An_unknown_address_is_404_and_something_that_is_no_address_400()
    {
        using var admin = AdminClient();

        Assert.Equal(HttpStatusCode.NotFound, (await admin.GetAsync("/api/admin/subscribers/nobody%40example.org")).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await admin.PostAsync("/api/admin/subscribers/nobody%40example.org/resend", null)).StatusCode);
        var bad = await admin.GetAsync("/api/admin/subscribers/not-an-address");
        Assert.Equal(HttpStatusCode.BadRequest, bad.StatusCode);
        Assert.Equal("application/problem+json", bad.Content.Headers.ContentType?.MediaType);
    }

    [Theory]
    [InlineData(null)]
    [InlineData("wrong-key-0123456789-wrong")]
    public async Task Without_the_admin_key_the_person_routes_refuse_and_change_nothing(string? key)
    {
        await SignUp("keyless@example.org", "news");
        await Fixture.Mail.WaitForMailToAsync("keyless@example.org");
        await Execute("UPDATE outbox SET created_at = created_at - interval '1 hour'");
        using var client = Fixture.App.CreateHttpClient();
        if (key is not null)
        {
            client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", key);
        }

        Assert.Equal(HttpStatusCode.Unauthorized, (await client.GetAsync("/api/admin/subscribers/keyless%40example.org")).StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, (await client.PostAsync("/api/admin/subscribers/keyless%40example.org/resend", null)).StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, (await client.PostAsync("/api/admin/outbox/dead/retry", new StringContent("{}", System.Text.Encoding.UTF8, "application/json"))).StatusCode);
        Assert.Equal(1, await Scalar<long>("SELECT count(*) FROM outbox"));
    }

    [Fact]
    public async Task A_resend_queues_a_new_confirmation_in_the_signups_language_within_the_caps()
    {
        await SignUp("resend@example.org", "news");
        Assert.Single(await Fixture.Mail.WaitForMailToAsync("resend@example.org"));
        using var admin = AdminClient();

        // at once: the resend interval (10 minutes) holds, and the answer says until when
        var early = await admin.PostAsync("/api/admin/subscribers/resend%40example.org/resend", null);
        Assert.Equal(HttpStatusCode.TooManyRequests, early.StatusCode);
        Assert.Equal("application/problem+json", early.Content.Headers.ContentType?.MediaType);
        var retryAfter = early.Headers.RetryAfter?.Delta;
        Assert.NotNull(retryAfter);
        Assert.InRange(retryAfter.Value.TotalSeconds, 500, 601);
        var next = JsonDocument.Parse(await early.Content.ReadAsStringAsync()).RootElement.GetProperty("nextAllowedAt").GetDateTimeOffset();
        var queuedAt = await Scalar<DateTime>("SELECT created_at FROM outbox");
        Assert.Equal(new DateTimeOffset(queuedAt, TimeSpan.Zero).AddMinutes(10), next, TimeSpan.FromSeconds(1));
        Assert.Equal(1, await Scalar<long>("SELECT count(*) FROM outbox"));

        await Execute("UPDATE outbox SET created_at = created_at - interval '11 minutes'");
        var resent = await admin.PostAsync("/api/admin/subscribers/resend%40example.org/resend", null);

        Assert.Equal(HttpStatusCode.Accepted, resent.StatusCode);
        Assert.Equal(["news"], JsonDocument.Parse(await resent.Content.ReadAsStringAsync()).RootElement.GetProperty("lists").EnumerateArray().Select(l => l.GetString()));
        var mails = await Fixture.Mail.WaitForMessagesAsync(2);
        Assert.Equal(2, mails.Count);
        Assert.All(mails, m => Assert.StartsWith("Bitte bestätigen Sie Ihr Abonnement", m.Subject, StringComparison.Ordinal));
        Assert.Equal(1, await Scalar<long>("SELECT count(*) FROM subscription_events WHERE type = 'resend_requested' AND source = 'admin'"));
        // both links work: the new one confirms
        Assert.Equal(HttpStatusCode.SeeOther, (await Client.PostAsync(ConfirmationMailTests.ConfirmationLink(mails[^1]).PathAndQuery, null)).StatusCode);
        Assert.Equal("confirmed", await Scalar<string>("SELECT status FROM subscriptions"));
    }

    [Fact]
    public async Task The_daily_cap_holds_for_a_resend_until_the_oldest_mail_of_the_day_is_a_day_old()
    {
        await SignUp("daily@example.org", "news");
        await Fixture.Mail.WaitForMailToAsync("daily@example.org");
        // four more mails this day, the oldest 20 hours ago: five, the daily limit
        await Execute("""
            UPDATE outbox SET created_at = now() - interval '20 hours';
            INSERT INTO outbox (subscription_id, kind, locale, created_at, due_at, sent_at)
            SELECT id, 'confirmation', 'en', now() - h * interval '1 hour', now() - h * interval '1 hour', now() - h * interval '1 hour'
            FROM subscriptions, generate_series(1, 4) AS h;
            """);
        using var admin = AdminClient();

        var refused = await admin.PostAsync("/api/admin/subscribers/daily%40example.org/resend", null);

        Assert.Equal(HttpStatusCode.TooManyRequests, refused.StatusCode);
        var next = JsonDocument.Parse(await refused.Content.ReadAsStringAsync()).RootElement.GetProperty("nextAllowedAt").GetDateTimeOffset();
        Assert.Equal(DateTimeOffset.UtcNow.AddHours(4), next, TimeSpan.FromMinutes(1));
        Assert.InRange(refused.Headers.RetryAfter!.Delta!.Value.TotalHours, 3.9, 4.1);
        Assert.Equal(5, await Scalar<long>("SELECT count(*) FROM outbox"));
    }

    [Fact]
    public async Task A_confirmed_or_suppressed_address_gets_no_resend()
    {
        await SignUp("done@example.org", "news");
        var mail = Assert.Single(await Fixture.Mail.WaitForMailToAsync("done@example.org"));
        Assert.Equal(HttpStatusCode.SeeOther, (await Client.PostAsync(ConfirmationMailTests.ConfirmationLink(mail).PathAndQuery, null)).StatusCode);
        await SignUp("bounced@example.org", "news");
        await Fixture.Mail.WaitForMailToAsync("bounced@example.org");
        await Execute("""
            UPDATE outbox SET created_at = created_at - interval '1 hour';
            INSERT INTO suppressions (email, reason, source, suppressed_at) VALUES ('bounced@example.org', 'hard_bounce', 'admin', now());
            """);
        using var admin = AdminClient();

        Assert.Equal(HttpStatusCode.Conflict, (await admin.PostAsync("/api/admin/subscribers/done%40example.org/resend", null)).StatusCode);
        Assert.Equal(HttpStatusCode.Conflict, (await admin.PostAsync("/api/admin/subscribers/bounced%40example.org/resend", null)).StatusCode);
        Assert.Equal(2, await Scalar<long>("SELECT count(*) FROM outbox"));
    }
}
