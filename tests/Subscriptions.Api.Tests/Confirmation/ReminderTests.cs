using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using MimeKit;
using Subscriptions.Api.Tests.Infrastructure;

namespace Subscriptions.Api.Tests.Confirmation;

/// <summary>The one reminder to a signup left pending; reminders come after seconds here, not days.</summary>
public sealed class ReminderTests(ApiFixture fixture) : OwnDatabaseTest(fixture)
{
    static readonly (string, string?)[] QuickReminders =
        [("Confirmation:ReminderAfter", "00:00:02"), ("Confirmation:ReminderInterval", "00:00:00.300"), ("Confirmation:ResendInterval", "00:00:00")];

    async Task<List<MimeMessage>> MailsTo(string address) =>
        [.. (await Fixture.Mail.MessagesAsync()).Where(m => m.To.Mailboxes.Single().Address == address)];

    [Fact]
    public async Task A_pending_signup_gets_one_reminder_with_a_fresh_link_and_its_confirmation_is_counted_apart()
    {
        await using var app = StartApp(null, QuickReminders);
        using var client = app.CreateHttpClient();
        await client.PostAsJsonAsync("/api/subscriptions", new { email = "late@example.org", consent = true, locale = "de" });

        await Eventually.TrueAsync(async () => (await MailsTo("late@example.org")).Count >= 2, TimeSpan.FromSeconds(20), "a reminder");
        await Task.Delay(TimeSpan.FromSeconds(3)); // a second reminder would come now
        var mails = await MailsTo("late@example.org");

        Assert.Equal(2, mails.Count);
        var (first, reminder) = (mails.MinBy(m => m.Date)!, mails.MaxBy(m => m.Date)!);
        Assert.Equal("Bitte bestätigen Sie Ihr Abonnement: News", first.Subject);
        Assert.Equal("Erinnerung – bitte bestätigen Sie Ihr Abonnement: News", reminder.Subject);
        Assert.Contains("noch nicht bestätigt", reminder.TextBody);
        var link = ConfirmationMailTests.ConfirmationLink(reminder);
        Assert.NotEqual(ConfirmationMailTests.ConfirmationLink(first), link);
        Assert.Equal(1, await Scalar<long>("SELECT count(*) FROM subscription_events WHERE type = 'reminder_sent'"));

        Assert.Equal(HttpStatusCode.SeeOther, (await client.PostAsync(link.PathAndQuery, null)).StatusCode);
        client.DefaultRequestHeaders.Authorization = new("Bearer", ApiFixture.AdminKey);
        var news = (await client.GetFromJsonAsync<JsonElement>("/api/admin/stats")).GetProperty("lists")[0];
        Assert.Equal(1, news.GetProperty("signupsLast24h").GetInt64());
        Assert.Equal(1, news.GetProperty("remindersSentLast24h").GetInt64());
        Assert.Equal(1, news.GetProperty("confirmationsLast24h").GetInt64());
        Assert.Equal(1, news.GetProperty("confirmationsAfterReminderLast24h").GetInt64());
        app.AssertNoErrorsLogged();
    }

    [Fact]
    public async Task No_reminder_goes_to_a_confirmed_or_unsubscribed_address()
    {
        await using var app = StartApp(null, [.. QuickReminders, ("Confirmation:ReminderAfter", "00:00:04")]);
        using var client = app.CreateHttpClient();
        await SignUp(client, ["early@example.org", "leaving@example.org"]);
        await Execute("""
            UPDATE subscriptions SET status = 'unsubscribed', unsubscribed_at = now()
            WHERE subscriber_id = (SELECT id FROM subscribers WHERE email = 'leaving@example.org')
            """);
        await Eventually.TrueAsync(async () => (await MailsTo("early@example.org")).Count == 1, TimeSpan.FromSeconds(10), "the confirmation mail");
        await client.PostAsync(ConfirmationMailTests.ConfirmationLink((await MailsTo("early@example.org")).Single()).PathAndQuery, null);
        await Task.Delay(TimeSpan.FromSeconds(6));

        Assert.Equal(0, await Scalar<long>("SELECT count(*) FROM outbox WHERE kind = 'reminder'"));
        Assert.Equal(0, await Scalar<long>("SELECT count(*) FROM subscriptions WHERE reminded_at IS NOT NULL"));
        app.AssertNoErrorsLogged();
    }

    [Fact]
    public async Task No_reminder_goes_to_a_suppressed_address()
    {
        await using var app = StartApp(null, [.. QuickReminders, ("Confirmation:ReminderAfter", "00:00:04")]);
        using var client = app.CreateHttpClient();
        await SignUp(client, ["bounced@example.org"]);
        await Eventually.TrueAsync(async () => (await MailsTo("bounced@example.org")).Count == 1, TimeSpan.FromSeconds(10), "the confirmation mail");
        client.DefaultRequestHeaders.Authorization = new("Bearer", ApiFixture.AdminKey);
        var suppressed = await client.PostAsJsonAsync("/api/admin/suppressions", new { email = "bounced@example.org", reason = "hard_bounce" });
        Assert.Equal(HttpStatusCode.Created, suppressed.StatusCode);
        await Task.Delay(TimeSpan.FromSeconds(6));

        Assert.Equal(0, await Scalar<long>("SELECT count(*) FROM outbox WHERE kind = 'reminder'"));
        Assert.Single(await MailsTo("bounced@example.org"));
        app.AssertNoErrorsLogged();
    }

    [Fact]
    public async Task A_reminder_waits_while_the_address_is_at_its_mail_cap()
    {
        await using var app = StartApp(null, [.. QuickReminders, ("Confirmation:ResendInterval", "01:00:00")]);
        await SignUp(app, ["capped@example.org"]);
        await Task.Delay(TimeSpan.FromSeconds(4));

        Assert.Equal(0, await Scalar<long>("SELECT count(*) FROM outbox WHERE kind = 'reminder'"));
        Assert.Single(await MailsTo("capped@example.org"));

        // once the last mail is an hour old, the reminder goes
        await Execute("UPDATE outbox SET created_at = created_at - interval '61 minutes'");
        await WaitUntil("SELECT count(*) = 1 FROM outbox WHERE kind = 'reminder' AND sent_at IS NOT NULL", TimeSpan.FromSeconds(10));
        app.AssertNoErrorsLogged();
    }
}
