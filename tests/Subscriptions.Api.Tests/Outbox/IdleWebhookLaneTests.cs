using Subscriptions.Api.Tests.Infrastructure;
using Xunit.Abstractions;

namespace Subscriptions.Api.Tests.Outbox;

/// <summary>
/// Every signup wakes the outbox's lanes. With no webhook endpoint registered the webhook workers
/// have nothing to deliver, and a wake-up must not cost the database anything. They used to skip
/// only the claim itself: each wake-up still opened the claim's transaction and then looked for
/// the next due event, two transactions (five round trips) per signup that nobody listened to.
/// </summary>
public sealed class IdleWebhookLaneTests(ApiFixture fixture, ITestOutputHelper output) : OwnDatabaseTest(fixture)
{
    const int Signups = 200;

    [Fact]
    public async Task Signups_without_a_webhook_endpoint_cost_the_database_their_own_transactions_only()
    {
        // No SMTP host: the mail lane stays off, and the poll is far away, so only the signups
        // themselves and what they wake can reach the database during the test.
        await using var app = StartApp(overrides: [("Smtp:Host", ""), ("Outbox:PollInterval", "01:00:00")]);
        await SignUp(app, Addresses(1, "first")); // the endpoint cache and everything else of a first request
        var before = await CommitsAsync();
        await SignUp(app, Addresses(Signups, "idle"));
        var after = await CommitsAsync();

        var perSignup = (double)(after - before) / Signups;
        output.WriteLine($"{Signups} signups: {after - before} transactions committed ({perSignup:F2} a signup)");
        // A signup is one transaction; a few more may come from jobs that run on their own
        // clock (the outbox gauges every 15 s, the endpoint cache every 5 s). The webhook
        // workers' two a wake-up would make it ~3.
        Assert.InRange(perSignup, 1.0, 1.2);
        app.AssertNoErrorsLogged();
    }

    /// <summary>
    /// Transactions committed in this test's database, counted once the service's sessions have
    /// reported them: a backend reports its counts at most once a second, and one that went idle
    /// within a second of its last report does so ten seconds later (PGSTAT_IDLE_INTERVAL).
    /// </summary>
    async Task<long> CommitsAsync()
    {
        await Task.Delay(TimeSpan.FromSeconds(11));
        return await Scalar<long>("SELECT xact_commit FROM pg_stat_database WHERE datname = current_database()");
    }
}
