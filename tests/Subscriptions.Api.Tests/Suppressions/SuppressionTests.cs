using System.Diagnostics;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Subscriptions.Api.Tests.Confirmation;
using Subscriptions.Api.Tests.Infrastructure;
using Subscriptions.Api.Tests.Webhooks;

namespace Subscriptions.Api.Tests.Suppressions;

/// <summary>The suppression list through the admin API: what a suppressed address gets (nothing), and what is recorded.</summary>
public sealed class SuppressionTests(ApiFixture fixture, ReceiverFixture receivers) : ApiTest(fixture), IClassFixture<ReceiverFixture>
{
    async Task SignUp(string email)
    {
        var response = await Client.PostAsJsonAsync("/api/subscriptions", new { email, consent = true });
        Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
    }

    async Task SignUpAndConfirm(string email)
    {
        await SignUp(email);
        var mail = Assert.Single(await Fixture.Mail.WaitForMailToAsync(email));
        Assert.Equal(HttpStatusCode.SeeOther, (await Client.PostAsync(ConfirmationMailTests.ConfirmationLink(mail).PathAndQuery, null)).StatusCode);
    }

    async Task<HttpResponseMessage> Suppress(string email, string reason = "manual")
    {
        using var admin = AdminClient();
        return await admin.PostAsJsonAsync("/api/admin/suppressions", new { email, reason });
    }

    async Task<JsonElement> ExportRow(string email)
    {
        using var admin = AdminClient();
        var rows = (await admin.GetStringAsync("/api/admin/export?format=ndjson")).Split('\n', StringSplitOptions.RemoveEmptyEntries)
            .Select(line => JsonDocument.Parse(line).RootElement);
        return Assert.Single(rows, r => r.GetProperty("email").GetString() == email);
    }

    [Fact]
    public async Task A_queued_mail_to_a_suppressed_address_is_dead_lettered_with_the_reason_and_not_sent()
    {
        await SignUp("queued@example.org");
        await Fixture.Mail.WaitForMailToAsync("queued@example.org");
        Assert.Equal(HttpStatusCode.Created, (await Suppress("Queued@Example.org", "hard_bounce")).StatusCode);

        // a reminder comes due for it, as the reminder job would queue one
        await Execute("INSERT INTO outbox (subscription_id, kind, locale, created_at, due_at) SELECT id, 'reminder', 'en', now(), now() FROM subscriptions");
        await Eventually.TrueAsync(() => Scalar<bool>("SELECT dead_at IS NOT NULL FROM outbox WHERE kind = 'reminder'"),
            TimeSpan.FromSeconds(15), "the reminder is dead-lettered");

        Assert.Equal("not sent: the address is suppressed (hard_bounce)", await Scalar<string>("SELECT last_error FROM outbox WHERE kind = 'reminder'"));
        Assert.Single(await Fixture.Mail.RecipientsAsync());
        Assert.Equal(0, await Scalar<long>("SELECT count(*) FROM subscription_events WHERE type = 'reminder_sent'"));
    }

    [Fact]
    public async Task A_complaint_ends_a_confirmed_subscription_and_the_endpoints_hear_of_it()
    {
        using var admin = AdminClient();
        await WebhookAdmin.RegisterAsync(admin, receivers.Receiver, "complaint");
        await SignUpAndConfirm("complainer@example.org");

        var response = await Suppress("complainer@example.org", "complaint");

        Assert.Equal(HttpStatusCode.Created, response.StatusCode);
        var received = await receivers.Receiver.WaitAsync("complaint", r => r.Count(d => d.Verified && d.Answered == 200) >= 4);
        Assert.Equal(["subscription.created", "subscription.confirmed", "subscription.unsubscribed", "subscriber.suppressed"], received.Select(r => r.Type));
        var suppressed = received[3].Data;
        Assert.Equal("complainer@example.org", suppressed.GetProperty("email").GetString());
        Assert.Equal("complaint", suppressed.GetProperty("reason").GetString());
        Assert.Equal("admin", suppressed.GetProperty("source").GetString());
        Assert.Equal(["news"], suppressed.GetProperty("lists").EnumerateArray().Select(l => l.GetString()));

        var row = await ExportRow("complainer@example.org");
        Assert.Equal("unsubscribed", row.GetProperty("status").GetString());
        Assert.True(row.GetProperty("suppressed").GetBoolean());
        Assert.Equal("complaint", row.GetProperty("suppressed_reason").GetString());
        Assert.Equal("complaint", await Scalar<string>("SELECT reason FROM subscription_events WHERE type = 'suppressed'"));
    }

    [Fact]
    public async Task A_bounce_leaves_the_subscription_as_it_was_but_flags_it_in_the_export()
    {
        await SignUpAndConfirm("bouncer@example.org");

        Assert.Equal(HttpStatusCode.Created, (await Suppress("bouncer@example.org", "hard_bounce")).StatusCode);
        var again = await Suppress("BOUNCER@example.org", "manual");

        Assert.Equal(HttpStatusCode.OK, again.StatusCode); // already suppressed: the row as it is
        Assert.Equal("hard_bounce", (await again.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("reason").GetString());
        var row = await ExportRow("bouncer@example.org");
        Assert.Equal("confirmed", row.GetProperty("status").GetString());
        Assert.True(row.GetProperty("suppressed").GetBoolean());
        Assert.Equal("hard_bounce", row.GetProperty("suppressed_reason").GetString());

        using var admin = AdminClient();
        var csv = await admin.GetStringAsync("/api/admin/export?format=csv");
        // the two columns side by side, wherever the export puts them
        Assert.Contains(",true,hard_bounce,", csv.Split('\n', StringSplitOptions.RemoveEmptyEntries)[1].TrimEnd('\r') + ",");
        var listed = await admin.GetFromJsonAsync<JsonElement>("/api/admin/suppressions");
        var entry = Assert.Single(listed.EnumerateArray());
        Assert.Equal("bouncer@example.org", entry.GetProperty("email").GetString());
        Assert.Equal("admin", entry.GetProperty("source").GetString());
    }

    [Fact]
    public async Task A_signup_of_a_suppressed_address_answers_as_any_other_and_changes_and_sends_nothing()
    {
        await SignUp("pending@example.org");
        await SignUpAndConfirm("silenced@example.org");
        await Suppress("silenced@example.org", "complaint");
        await Fixture.Mail.ClearAsync();
        const string theirs = "SELECT string_agg(s::text, '|' ORDER BY s.id) FROM subscriptions s JOIN subscribers p ON p.id = s.subscriber_id WHERE p.email = 'silenced@example.org'";
        var before = await Scalar<string>(theirs);
        var events = await Scalar<long>("SELECT count(*) FROM subscription_events");

        // JSON and form, the answer is the one a pending address gets
        var pending = await Client.PostAsJsonAsync("/api/subscriptions", new { email = "pending@example.org", consent = true });
        var silenced = await Client.PostAsJsonAsync("/api/subscriptions", new { email = "silenced@example.org", consent = true });
        Assert.Equal(pending.StatusCode, silenced.StatusCode);
        Assert.Equal(await pending.Content.ReadAsStringAsync(), await silenced.Content.ReadAsStringAsync());
        var form = await Client.PostAsync("/api/subscriptions", new FormUrlEncodedContent([new("email", "silenced@example.org"), new("consent", "on")]));
        var pendingForm = await Client.PostAsync("/api/subscriptions", new FormUrlEncodedContent([new("email", "pending@example.org"), new("consent", "on")]));
        Assert.Equal(pendingForm.StatusCode, form.StatusCode);
        Assert.Equal(pendingForm.Headers.Location, form.Headers.Location);

        await SignUp("newcomer@example.org");
        await Fixture.Mail.WaitForMailToAsync("newcomer@example.org"); // a later signup's mail came: the dispatcher ran
        await Task.Delay(500);
        Assert.DoesNotContain("silenced@example.org", await Fixture.Mail.RecipientsAsync());
        Assert.Equal(before, await Scalar<string>(theirs));
        Assert.Equal(0, await Scalar<long>("""
            SELECT count(*) FROM subscription_events e JOIN subscriptions s ON s.id = e.subscription_id
            JOIN subscribers p ON p.id = s.subscriber_id WHERE p.email = 'silenced@example.org' AND e.id > @events
            """, new { events }));
    }

    [Fact]
    public async Task A_suppressed_signup_takes_about_as_long_as_any_other()
    {
        await SignUp("timing-pending@example.org");
        await Suppress("timing-silenced@example.org", "manual");
        async Task<double> Time(string email)
        {
            var started = Stopwatch.GetTimestamp();
            await Client.PostAsJsonAsync("/api/subscriptions", new { email, consent = true });
            return Stopwatch.GetElapsedTime(started).TotalMilliseconds;
        }

        var pending = new List<double>();
        var silenced = new List<double>();
        for (var i = 0; i < 15; i++)
        {
            pending.Add(await Time("timing-pending@example.org"));
            silenced.Add(await Time("timing-silenced@example.org"));
        }

        static double Median(List<double> values) => values.Order().ElementAt(values.Count / 2);
        var ratio = Median(silenced) / Median(pending);
        Assert.InRange(ratio, 0.25, 4); // one statement either way; a stopwatch on a shared machine is noisy
    }

    [Fact]
    public async Task Lifting_a_suppression_is_recorded_and_lets_mail_through_again()
    {
        await SignUp("lifted@example.org");
        await Fixture.Mail.WaitForMailToAsync("lifted@example.org");
        await Suppress("lifted@example.org", "manual");
        using var admin = AdminClient();

        Assert.Equal(HttpStatusCode.NoContent, (await admin.DeleteAsync("/api/admin/suppressions/Lifted%40example.org")).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await admin.DeleteAsync("/api/admin/suppressions/lifted%40example.org")).StatusCode);

        Assert.Equal("manual", await Scalar<string>("SELECT reason FROM subscription_events WHERE type = 'suppression_lifted'"));
        Assert.Empty((await admin.GetFromJsonAsync<JsonElement>("/api/admin/suppressions")).EnumerateArray());
        await Fixture.Mail.ClearAsync();
        await Execute("UPDATE outbox SET created_at = created_at - interval '1 day'"); // past the resend throttle
        await SignUp("lifted@example.org");
        await Fixture.Mail.WaitForMailToAsync("lifted@example.org");
    }

    [Fact]
    public async Task An_erased_complainer_leaves_the_list_but_a_replayed_form_stores_and_sends_nothing()
    {
        await SignUpAndConfirm("erased-complainer@example.org");
        await Suppress("erased-complainer@example.org", "complaint");
        using var admin = AdminClient();

        Assert.Equal(HttpStatusCode.NoContent, (await admin.DeleteAsync("/api/admin/subscribers/erased-complainer%40example.org")).StatusCode);
        Assert.Equal(0, await Scalar<long>("SELECT count(*) FROM suppressions"));
        Assert.Equal("complaint", await Scalar<string>("SELECT suppression_reason FROM erasures"));
        await Fixture.Mail.ClearAsync();

        await SignUp("erased-complainer@example.org");
        await SignUp("someone-else@example.org");
        await Fixture.Mail.WaitForMailToAsync("someone-else@example.org");
        await Task.Delay(300);
        Assert.Equal(["someone-else@example.org"], await Fixture.Mail.RecipientsAsync());
        Assert.Equal(0, await Scalar<long>("SELECT count(*) FROM subscribers WHERE email = 'erased-complainer@example.org'"));
    }

    [Fact]
    public async Task Bad_admin_input_is_refused_and_stores_nothing()
    {
        using var admin = AdminClient();
        foreach (var body in new object[]
        {
            new { email = "not an address" }, new { email = "x@example.org", reason = "spite" }, new { reason = "manual" },
            new { email = "x@example.org", source = new string('s', 101) }, new { email = "x@example.org", eventId = "a\u0000b" },
        })
        {
            Assert.Equal(HttpStatusCode.BadRequest, (await admin.PostAsJsonAsync("/api/admin/suppressions", body)).StatusCode);
        }

        Assert.Equal(HttpStatusCode.BadRequest, (await admin.GetAsync("/api/admin/suppressions?limit=0")).StatusCode);
        Assert.Equal(HttpStatusCode.BadRequest, (await admin.GetAsync("/api/admin/suppressions?reason=spite")).StatusCode);
        Assert.Equal(HttpStatusCode.BadRequest, (await admin.DeleteAsync("/api/admin/suppressions/nobody")).StatusCode);
        Assert.Equal(0, await Scalar<long>("SELECT count(*) FROM suppressions"));
    }

    [Fact]
    public async Task A_tool_posting_the_same_event_twice_suppresses_once()
    {
        using var admin = AdminClient();
        var first = await admin.PostAsJsonAsync("/api/admin/suppressions", new { email = "tool@example.org", reason = "hard_bounce", source = "crm", eventId = "evt-1" });
        await admin.DeleteAsync("/api/admin/suppressions/tool%40example.org");
        var second = await admin.PostAsJsonAsync("/api/admin/suppressions", new { email = "tool@example.org", reason = "hard_bounce", source = "crm", eventId = "evt-1" });

        Assert.Equal(HttpStatusCode.Created, first.StatusCode);
        Assert.Equal(HttpStatusCode.OK, second.StatusCode);
        Assert.Equal(1, await Scalar<long>("SELECT count(*) FROM suppressions"));
    }
}
