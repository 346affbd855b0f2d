using System.Net;
using System.Net.Http.Json;
using Dapper;
using Microsoft.Extensions.Time.Testing;
using Subscriptions.Api.Tests.Infrastructure;

namespace Subscriptions.Api.Tests.Confirmation;

/// <summary>Repeat signups re-send the confirmation, throttled per address, and never reveal anything.</summary>
public class RepeatSignupTests(ApiFixture fixture) : ApiTest(fixture)
{
    async Task<long> SentTo(string email)
    {
        await using var connection = await Database.OpenConnectionAsync();
        return await connection.ExecuteScalarAsync<long>("""
            SELECT count(*) FROM outbox o
            JOIN subscriptions sub ON sub.id = o.subscription_id JOIN subscribers s ON s.id = sub.subscriber_id
            WHERE s.email = @email AND o.sent_at IS NOT NULL
            """, new { email });
    }

    async Task<long> Enqueued(string email)
    {
        await using var connection = await Database.OpenConnectionAsync();
        return await connection.ExecuteScalarAsync<long>("""
            SELECT count(*) FROM outbox o
            JOIN subscriptions sub ON sub.id = o.subscription_id JOIN subscribers s ON s.id = sub.subscriber_id
            WHERE s.email = @email
            """, new { email });
    }

    /// <summary>Signs up and waits until the dispatcher has sent everything that was enqueued.</summary>
    static async Task<string> SignUp(HttpClient client, string email, Func<Task<long>> enqueued, Func<Task<long>> sent)
    {
        var response = await client.PostAsJsonAsync("/api/subscriptions", new { email, consent = true });
        Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
        var deadline = DateTime.UtcNow.AddSeconds(20);
        while (await sent() < await enqueued() && DateTime.UtcNow < deadline)
        {
            await Task.Delay(20);
        }

        return await response.Content.ReadAsStringAsync();
    }

    [Fact]
    public async Task A_pending_address_gets_one_mail_per_ten_minutes_and_five_a_day()
    {
        const string email = "again@example.org";
        var clock = new FakeTimeProvider(DateTimeOffset.UtcNow);
        await using var app = new SubscriptionsApp(Fixture.ConnectionString, Fixture.AppSettings(), clock);
        using var client = app.CreateHttpClient();
        Task<long> Enqueued() => this.Enqueued(email);
        Task<long> Sent() => SentTo(email);

        var first = await SignUp(client, email, Enqueued, Sent);
        clock.Advance(TimeSpan.FromMinutes(9));
        var tooSoon = await SignUp(client, email, Enqueued, Sent);
        Assert.Equal(1, await Sent());
        Assert.Equal(first, tooSoon);

        for (var i = 2; i <= 7; i++)
        {
            clock.Advance(TimeSpan.FromMinutes(11));
            Assert.Equal(first, await SignUp(client, email, Enqueued, Sent));
        }

        Assert.Equal(5, await Sent());
        clock.Advance(TimeSpan.FromHours(24));
        await SignUp(client, email, Enqueued, Sent);
        Assert.Equal(6, await Sent());
    }

    [Fact]
    public async Task A_confirmed_address_gets_no_new_mail_and_the_same_answer()
    {
        const string email = "member@example.org";
        var first = await SignUp(Client, email, () => Enqueued(email), () => SentTo(email));
        await using (var connection = await Database.OpenConnectionAsync())
        {
            await connection.ExecuteAsync("UPDATE subscriptions SET status = 'confirmed', confirmed_at = now()");
        }

        var clock = new FakeTimeProvider(DateTimeOffset.UtcNow.AddHours(1));
        await using var later = new SubscriptionsApp(Fixture.ConnectionString, Fixture.AppSettings(), clock);
        using var client = later.CreateHttpClient();
        var again = await SignUp(client, email, () => Enqueued(email), () => SentTo(email));

        Assert.Equal(first, again);
        Assert.Equal(1, await Enqueued(email));
    }

    [Fact]
    public async Task Twenty_concurrent_signups_of_a_new_address_send_one_mail()
    {
        const string email = "burst@example.org";

        var responses = await Task.WhenAll(Enumerable.Range(0, 20).Select(_ =>
            Client.PostAsJsonAsync("/api/subscriptions", new { email, consent = true })));

        Assert.All(responses, r => Assert.Equal(HttpStatusCode.Accepted, r.StatusCode));
        Assert.Equal(1, await Enqueued(email));
        Assert.Single(await Fixture.Mail.WaitForMailToAsync(email));
    }
}
