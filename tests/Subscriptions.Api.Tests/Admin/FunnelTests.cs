using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using MimeKit;
using Subscriptions.Api.Tests.Confirmation;
using Subscriptions.Api.Tests.Hosting;
using Subscriptions.Api.Tests.Infrastructure;

namespace Subscriptions.Api.Tests.Admin;

/// <summary>
/// The confirmation funnel as /api/admin/stats and /metrics show it, after a run of signups from
/// several sources, confirmations, reminders and confirmations after the reminder. Against the
/// service as a process of its own, so that /metrics counts this test's signups alone.
/// </summary>
public sealed class FunnelTests(ApiFixture fixture, Xunit.Abstractions.ITestOutputHelper output) : OwnDatabaseTest(fixture)
{
    [Fact]
    public async Task Stats_and_metrics_show_the_funnel_per_list_and_source_with_the_reminders_part_and_the_time_to_confirm()
    {
        await using var service = await RunningService.StartAsync(new(Settings(null,
            ("Confirmation:ReminderAfter", "00:01:00"), ("Confirmation:ReminderInterval", "00:00:00.300"), ("Confirmation:ResendInterval", "00:00:00"),
            ("Attribution:Sources:0", "partner")))
        {
            ["ConnectionStrings:Subscriptions"] = ConnectionString,
        });
        using var client = service.CreateHttpClient();
        using var admin = service.CreateHttpClient();
        admin.DefaultRequestHeaders.Authorization = new("Bearer", ApiFixture.AdminKey);
        Assert.Equal(HttpStatusCode.Created, (await admin.PostAsJsonAsync("/api/admin/lists",
            new { slug = "sport", name = "Sport", consentText = "I agree.", consentTextVersion = "1" })).StatusCode);

        // newsletter is a shipped source, partner a configured one, anything else is other; none without one
        (string Email, string List, string? UtmSource)[] signups =
        [
            ("funnel-n1@example.org", "news", "newsletter"), ("funnel-n2@example.org", "news", "Newsletter"), ("funnel-n3@example.org", "news", "newsletter"),
            ("funnel-p1@example.org", "news", "partner"), ("funnel-p2@example.org", "news", "partner"),
            ("funnel-o1@example.org", "news", "bot-minted-1"), ("funnel-o2@example.org", "news", "bot-minted-2"),
            ("funnel-d1@example.org", "news", null), ("funnel-d2@example.org", "news", null),
            ("funnel-s1@example.org", "sport", "newsletter"),
        ];
        foreach (var (email, list, utmSource) in signups)
        {
            var page = utmSource is null ? "https://news.example/" : $"https://news.example/?utm_source={utmSource}&utm_medium=email";
            var response = await client.PostAsJsonAsync("/api/subscriptions", new { email, consent = true, lists = new[] { list }, source = page });
            Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
        }

        // refused: an address that is none, a bad utm field, a bot in the honeypot
        Assert.Equal(HttpStatusCode.BadRequest, (await client.PostAsJsonAsync("/api/subscriptions", new { email = "nobody@", consent = true })).StatusCode);
        Assert.Equal(HttpStatusCode.BadRequest, (await client.PostAsJsonAsync("/api/subscriptions",
            new Dictionary<string, object> { ["email"] = "x@example.org", ["consent"] = true, ["utm_source"] = new string('u', 101) })).StatusCode);
        Assert.Equal(HttpStatusCode.Accepted, (await client.PostAsJsonAsync("/api/subscriptions",
            new { email = "bot@example.org", consent = true, website = "http://spam.example" })).StatusCode);

        // four confirm from the first mail at once
        foreach (var email in new[] { "funnel-n1@example.org", "funnel-n2@example.org", "funnel-p1@example.org", "funnel-d1@example.org" })
        {
            await Confirm(client, Assert.Single(await Fixture.Mail.WaitForMailToAsync(email)));
        }

        // Two hours pass for the six still pending (their signups move back: no test waits for a
        // reminder interval on a loaded machine), so the reminder job reminds them within its 300 ms;
        // two of them confirm from the reminder
        await Execute("""
            UPDATE subscription_events SET occurred_at = occurred_at - interval '2 hours'
            WHERE type = 'signup' AND subscription_id IN (SELECT id FROM subscriptions WHERE status = 'pending');
            UPDATE subscriptions SET consent_at = consent_at - interval '2 hours' WHERE status = 'pending';
            """);
        await WaitUntil("SELECT count(*) = 6 FROM subscription_events WHERE type = 'reminder_sent'", TimeSpan.FromSeconds(30));
        foreach (var email in new[] { "funnel-n3@example.org", "funnel-o1@example.org" })
        {
            var mails = await Fixture.Mail.WaitForMailToAsync(email, count: 2);
            await Confirm(client, mails.MaxBy(m => m.Date)!);
        }

        var stats = await admin.GetFromJsonAsync<JsonElement>("/api/admin/stats");
        var metrics = await ObservabilityTests.Metrics(admin);
        output.WriteLine(stats.GetProperty("funnel").ToString());
        output.WriteLine(string.Join('\n', metrics.Where(m => m.Key.StartsWith("subscriptions_", StringComparison.Ordinal)).Select(m => $"{m.Key} {m.Value}")));

        // the stats: per list and source
        var rows = stats.GetProperty("funnel").GetProperty("rows").EnumerateArray()
            .ToDictionary(r => $"{r.GetProperty("list").GetString()}/{r.GetProperty("source").GetString()}");
        Assert.Equal(["news/newsletter", "news/none", "news/other", "news/partner", "sport/newsletter"], rows.Keys.Order());
        (long Signups, long Confirmations, double? Rate, long AfterReminder)[] expected = [(3, 3, 1.0, 1), (2, 1, 0.5, 0), (2, 1, 0.5, 1), (2, 1, 0.5, 0), (1, 0, 0.0, 0)];
        foreach (var (key, want) in rows.Keys.Order().Zip(expected))
        {
            var row = rows[key];
            Assert.Equal(want, (row.GetProperty("signups").GetInt64(), row.GetProperty("confirmations").GetInt64(),
                row.GetProperty("confirmationRate").GetDouble(), row.GetProperty("confirmationsAfterReminder").GetInt64()));
        }

        // time to confirm, cumulative: the quick ones within a minute, the reminded ones within three hours
        var newsletter = rows["news/newsletter"].GetProperty("timeToConfirmSeconds").EnumerateArray().ToDictionary(
            b => b.GetProperty("le").ValueKind == JsonValueKind.Null ? "+Inf" : b.GetProperty("le").GetDouble().ToString(System.Globalization.CultureInfo.InvariantCulture),
            b => b.GetProperty("count").GetInt64());
        Assert.Equal(2, newsletter["60"]);
        Assert.Equal(2, newsletter["3600"]);
        Assert.Equal(3, newsletter["10800"]);
        Assert.Equal(3, newsletter["+Inf"]);
        var news = stats.GetProperty("lists").EnumerateArray().Single(l => l.GetProperty("list").GetString() == "news");
        Assert.Equal(6, news.GetProperty("confirmationsLast24h").GetInt64());
        Assert.Equal(2, news.GetProperty("confirmationsAfterReminderLast24h").GetInt64());
        Assert.Equal(5, news.GetProperty("remindersSentLast24h").GetInt64());
        var rejected = stats.GetProperty("rejectedSinceStart");
        Assert.Equal(2, rejected.GetProperty("invalid").GetInt64());
        Assert.Equal(1, rejected.GetProperty("honeypot").GetInt64());

        // /metrics: the same numbers, labelled with existing lists and known sources only
        Assert.Equal(3, metrics["subscriptions_signups_total{list=\"news\",outcome=\"accepted\",source=\"newsletter\"}"]);
        Assert.Equal(2, metrics["subscriptions_signups_total{list=\"news\",outcome=\"accepted\",source=\"partner\"}"]);
        Assert.Equal(2, metrics["subscriptions_signups_total{list=\"news\",outcome=\"accepted\",source=\"other\"}"]);
        Assert.Equal(2, metrics["subscriptions_signups_total{list=\"news\",outcome=\"accepted\",source=\"none\"}"]);
        Assert.Equal(1, metrics["subscriptions_signups_total{list=\"sport\",outcome=\"accepted\",source=\"newsletter\"}"]);
        Assert.Equal(2, metrics["subscriptions_signups_total{list=\"news\",outcome=\"invalid\",source=\"none\"}"]);
        Assert.Equal(1, metrics["subscriptions_signups_total{list=\"news\",outcome=\"honeypot\",source=\"none\"}"]);
        Assert.Equal(2, metrics["subscriptions_confirmations_total{list=\"news\",reminded=\"false\",source=\"newsletter\"}"]);
        Assert.Equal(1, metrics["subscriptions_confirmations_total{list=\"news\",reminded=\"true\",source=\"newsletter\"}"]);
        Assert.Equal(1, metrics["subscriptions_confirmations_total{list=\"news\",reminded=\"true\",source=\"other\"}"]);
        Assert.Equal(1, metrics["subscriptions_confirmations_total{list=\"news\",reminded=\"false\",source=\"partner\"}"]);
        Assert.Equal(1, metrics["subscriptions_confirmations_total{list=\"news\",reminded=\"false\",source=\"none\"}"]);
        Assert.Equal(2, metrics["subscriptions_time_to_confirm_seconds_bucket{list=\"news\",source=\"newsletter\",le=\"60\"}"]);
        Assert.Equal(3, metrics["subscriptions_time_to_confirm_seconds_bucket{list=\"news\",source=\"newsletter\",le=\"10800\"}"]);
        Assert.Equal(3, metrics["subscriptions_time_to_confirm_seconds_count{list=\"news\",source=\"newsletter\"}"]);
        Assert.InRange(metrics["subscriptions_time_to_confirm_seconds_sum{list=\"news\",source=\"newsletter\"}"], 7200, 7300);
        Assert.DoesNotContain(metrics.Keys, k => k.Contains("bot-minted", StringComparison.Ordinal));
    }

    static async Task Confirm(HttpClient client, MimeMessage mail)
    {
        var confirmed = await client.PostAsync(ConfirmationMailTests.ConfirmationLink(mail).PathAndQuery, null);
        Assert.Equal(HttpStatusCode.SeeOther, confirmed.StatusCode);
    }
}
