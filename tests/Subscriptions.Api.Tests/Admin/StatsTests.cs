using System.Net.Http.Json;
using System.Text.Json;
using Subscriptions.Api.Tests.Infrastructure;

namespace Subscriptions.Api.Tests.Admin;

public class StatsTests(ApiFixture fixture) : ApiTest(fixture)
{
    [Fact]
    public async Task Stats_count_by_list_and_status_and_describe_the_outbox()
    {
        foreach (var email in new[] { "a@example.org", "b@example.org", "c@example.org" })
        {
            await Client.PostAsJsonAsync("/api/subscriptions", new { email, consent = true });
        }

        foreach (var email in new[] { "a@example.org", "b@example.org", "c@example.org" })
        {
            await Fixture.Mail.WaitForMailToAsync(email);
        }

        await Execute("UPDATE subscriptions SET status = 'confirmed', confirmed_at = now() WHERE id = 1");
        await Execute("INSERT INTO subscription_events (subscription_id, list_id, type, occurred_at) VALUES (1, 1, 'confirmed', now())");
        await Execute("UPDATE outbox SET dead_at = now(), sent_at = NULL WHERE id = 2");

        using var admin = AdminClient();
        var stats = await admin.GetFromJsonAsync<JsonElement>("/api/admin/stats");

        var news = Assert.Single(stats.GetProperty("lists").EnumerateArray());
        Assert.Equal("news", news.GetProperty("list").GetString());
        Assert.Equal(2, news.GetProperty("pending").GetInt64());
        Assert.Equal(1, news.GetProperty("confirmed").GetInt64());
        Assert.Equal(0, news.GetProperty("unsubscribed").GetInt64());
        Assert.Equal(3, news.GetProperty("signupsLast24h").GetInt64());
        Assert.Equal(1, news.GetProperty("confirmationsLast24h").GetInt64());
        var outbox = stats.GetProperty("outbox");
        Assert.Equal(0, outbox.GetProperty("waiting").GetInt64());
        Assert.Equal(JsonValueKind.Null, outbox.GetProperty("oldestWaitingSeconds").ValueKind);
        Assert.Equal(1, outbox.GetProperty("deadLettered").GetInt64());
    }
}
