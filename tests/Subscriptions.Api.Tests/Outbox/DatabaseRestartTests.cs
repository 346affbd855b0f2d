using System.Diagnostics;
using System.Net;
using System.Net.Http.Json;
using Dapper;
using Microsoft.Extensions.Logging;
using Npgsql;
using Subscriptions.Api.Outbox;
using Subscriptions.Api.Tests.Infrastructure;
using Subscriptions.Api.Tests.Webhooks;
using Xunit.Abstractions;

namespace Subscriptions.Api.Tests.Outbox;

/// <summary>
/// PostgreSQL stopped for a few seconds in the middle of a dispatch and started again, while the
/// service runs on: every mail and every webhook event still goes out, at most one extra per
/// worker (the one it was sending when its outcome could not be written), nothing is lost, and
/// the service carries on by itself, logging Warnings, not Errors. Each test has a PostgreSQL of
/// its own with durable commits (see <see cref="PostgresServer"/>), and slowed deliveries so that
/// the stop lands mid-dispatch. And the database failing between a claim and the first send
/// hands the batch back at once instead of holding it for the claim's lease.
/// </summary>
[Collection(ApiCollection.Name)]
public sealed class DatabaseRestartTests(ApiFixture fixture, ITestOutputHelper output) : IAsyncLifetime
{
    const int Count = 100;
    static readonly int SmtpConnections = new OutboxOptions().SmtpConnections; // the default
    static readonly int WebhookWorkers = new OutboxOptions().WebhookWorkers; // the default
    static readonly TimeSpan PerDelivery = TimeSpan.FromMilliseconds(50);
    static readonly TimeSpan OutageLength = TimeSpan.FromSeconds(5);

    readonly PostgresServer _postgres = new(durableCommits: true);
    string _connectionString = null!;

    // the test's own queries take a fresh connection each: none of them is left broken by the restart
    string Unpooled => $"{_connectionString};Pooling=false";

    public async Task InitializeAsync()
    {
        await _postgres.StartAsync();
        _connectionString = await _postgres.CreateDatabaseAsync();
    }

    public async Task DisposeAsync() => await _postgres.DisposeAsync();

    [Fact]
    public async Task Mails_queued_before_a_database_restart_all_go_out_with_at_most_one_extra_per_connection()
    {
        var emails = Addresses("restart-mail");
        // queued by an instance that sends nothing, so the dispatch below starts with all of them waiting
        await using (var front = new SubscriptionsApp(_connectionString, WithoutSmtp()))
        {
            await SignUp(front, emails);
        }

        await using var relay = new RelayProxy(fixture.Mail.Port) { PerMessageDelay = PerDelivery };
        await using var app = new SubscriptionsApp(_connectionString, fixture.AppSettings(relay.Port));
        async Task<int> Sent() => (await fixture.Mail.RecipientsAsync()).Count(a => a.StartsWith("restart-mail", StringComparison.Ordinal));

        await Eventually.TrueAsync(async () => await Sent() >= 10, TimeSpan.FromSeconds(20), "the dispatch is under way");
        var (sentBefore, down) = await RestartAsync(Sent);
        await WaitUntil($"SELECT count(*) = {Count} FROM outbox WHERE sent_at IS NOT NULL", TimeSpan.FromSeconds(30));

        // recovered by itself: a signup made now is mailed too
        await SignUp(app, ["restart-mail-after@example.org"]);
        await WaitUntil($"SELECT count(*) = {Count + 1} FROM outbox WHERE sent_at IS NOT NULL", TimeSpan.FromSeconds(15));
        await Task.Delay(TimeSpan.FromSeconds(1)); // a duplicate would arrive about now

        var mails = (await fixture.Mail.RecipientsAsync()).Where(a => a.StartsWith("restart-mail", StringComparison.Ordinal))
            .GroupBy(a => a).ToDictionary(g => g.Key, g => g.Count());
        var extra = mails.Values.Sum() - mails.Count;
        output.WriteLine($"{Count} mails: {sentBefore} sent before PostgreSQL stopped, down {down.TotalSeconds:0.0} s, "
            + $"{extra} extra copies; {Warnings(app)} warnings logged");

        Assert.Equal(emails.Append("restart-mail-after@example.org").Order(), mails.Keys.Order());
        Assert.InRange(sentBefore, 1, Count - 1);
        Assert.InRange(extra, 0, SmtpConnections);
        Assert.All(mails, m => Assert.InRange(m.Value, 1, 2));
        Assert.Equal(0, await Scalar<long>("SELECT count(*) FROM outbox WHERE sent_at IS NULL"));
        Assert.Equal(Count + 1, await Scalar<long>("SELECT count(*) FROM subscription_events WHERE type = 'confirmation_sent'"));
        AssertTheOutageWasSeenAndNoErrorLogged(app, "Mail");
    }

    [Fact]
    public async Task Webhook_events_queued_before_a_database_restart_are_all_delivered_with_at_most_one_extra_per_worker()
    {
        await using var receiver = await WebhookReceiver.StartAsync();
        // one delivery in flight per worker, as an SMTP connection has: the 100 events go out in
        // waves the stop lands among (the default's 128 in flight would send them all at once)
        var settings = WithoutSmtp();
        settings["Outbox:WebhookConcurrency"] = "1";
        await using var app = new SubscriptionsApp(_connectionString, settings);
        using var admin = app.CreateHttpClient();
        admin.DefaultRequestHeaders.Authorization = new("Bearer", ApiFixture.AdminKey);
        await WebhookAdmin.RegisterAsync(admin, receiver, "restart", events: ["subscription.created"], delay: PerDelivery);

        // queued while the endpoint is paused, so the dispatch below starts with all of them waiting
        await Execute("UPDATE webhook_endpoints SET paused_until = now() + interval '1 hour'");
        await SignUp(app, Addresses("restart-hook"));
        await Execute("UPDATE webhook_endpoints SET paused_until = NULL");
        async Task<int> Delivered() => (await receiver.ReceivedAsync("restart")).Count(r => r.Verified && r.Answered == 200);

        await Eventually.TrueAsync(async () => await Delivered() >= 10, TimeSpan.FromSeconds(20), "the dispatch is under way");
        var (deliveredBefore, down) = await RestartAsync(Delivered);
        await WaitUntil($"SELECT count(*) = {Count} FROM outbox WHERE kind = 'webhook' AND sent_at IS NOT NULL", TimeSpan.FromSeconds(30));

        await SignUp(app, ["restart-hook-after@example.org"]);
        await WaitUntil($"SELECT count(*) = {Count + 1} FROM outbox WHERE kind = 'webhook' AND sent_at IS NOT NULL", TimeSpan.FromSeconds(15));
        await Task.Delay(TimeSpan.FromSeconds(1));

        var received = await receiver.ReceivedAsync("restart");
        var events = received.GroupBy(r => r.Data.GetProperty("email").GetString()!).ToDictionary(g => g.Key, g => g.ToList());
        var extra = received.Count - events.Count;
        output.WriteLine($"{Count} events: {deliveredBefore} delivered before PostgreSQL stopped, down {down.TotalSeconds:0.0} s, "
            + $"{extra} extra deliveries; {Warnings(app)} warnings logged");

        Assert.All(received, r => Assert.True(r.Verified && r.Answered == 200, $"{r.Id}: {r.Error} {r.Answered}"));
        Assert.Equal(Addresses("restart-hook").Append("restart-hook-after@example.org").Order(), events.Keys.Order());
        Assert.All(events.Values, e => Assert.Single(e.Select(r => r.Id).Distinct())); // a repeat is the same message
        Assert.InRange(deliveredBefore, 1, Count - 1);
        Assert.InRange(extra, 0, WebhookWorkers);
        Assert.All(events.Values, e => Assert.InRange(e.Count, 1, 2));
        Assert.Equal(0, await Scalar<long>("SELECT count(*) FROM outbox WHERE kind = 'webhook' AND sent_at IS NULL"));
        AssertTheOutageWasSeenAndNoErrorLogged(app, "Webhooks");
    }

    [Fact]
    public async Task A_batch_whose_links_could_not_be_stored_goes_back_to_the_queue_at_once()
    {
        await using var app = new SubscriptionsApp(_connectionString, fixture.AppSettings());
        // the first store of a batch's link hashes fails, as when PostgreSQL goes away between the claim and the first send
        await Execute("""
            CREATE SEQUENCE token_stores;
            CREATE FUNCTION fail_first_token_store() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
                IF nextval('token_stores') = 1 THEN
                    RAISE EXCEPTION 'the database went away' USING ERRCODE = '08006';
                END IF;
                RETURN NULL;
            END
            $$;
            CREATE TRIGGER fail_first_token_store BEFORE INSERT ON tokens FOR EACH STATEMENT EXECUTE FUNCTION fail_first_token_store();
            """);

        await SignUp(app, ["handed-back@example.org"]);

        // the lease (two minutes) would hold the claim; the worker's 5 s pause after the failure is all it should wait
        await Eventually.TrueAsync(async () => (await fixture.Mail.RecipientsAsync()).Contains("handed-back@example.org"),
            TimeSpan.FromSeconds(20), "the mail is sent after the failed store");
        Assert.Equal(2, await Scalar<long>("SELECT last_value FROM token_stores"));
        AssertTheOutageWasSeenAndNoErrorLogged(app, "Mail");
    }

    /// <summary>
    /// Stops PostgreSQL, starts it again <see cref="OutageLength"/> after the stop began, and waits
    /// until it answers. Returns what had been delivered when the stop returned, and how long the
    /// database was away (from the stop until it answered again).
    /// </summary>
    async Task<(int DeliveredBefore, TimeSpan Down)> RestartAsync(Func<Task<int>> delivered)
    {
        var down = Stopwatch.StartNew();
        await _postgres.StopAsync();
        var deliveredBefore = await delivered();
        output.WriteLine($"PostgreSQL stopped in {down.ElapsedMilliseconds} ms, {deliveredBefore} delivered by then");
        if (OutageLength - down.Elapsed is var rest && rest > TimeSpan.Zero)
        {
            await Task.Delay(rest);
        }

        await _postgres.StartAsync();
        await Eventually.TrueAsync(async () =>
        {
            try
            {
                return await Scalar<int>("SELECT 1") == 1;
            }
            catch (NpgsqlException)
            {
                return false;
            }
        }, TimeSpan.FromSeconds(30), "PostgreSQL answers again");
        output.WriteLine($"PostgreSQL answered again {down.ElapsedMilliseconds} ms after the stop began");
        return (deliveredBefore, down.Elapsed);
    }

    void AssertTheOutageWasSeenAndNoErrorLogged(SubscriptionsApp app, string lane)
    {
        var logs = app.Logs.GetSnapshot();
        Assert.Contains(logs, r => r.Level == LogLevel.Warning && r.Message.Contains($"unavailable to the {lane} outbox worker", StringComparison.Ordinal));
        app.AssertNoErrorsLogged();
    }

    static int Warnings(SubscriptionsApp app) => app.Logs.GetSnapshot().Count(r => r.Level == LogLevel.Warning);

    Dictionary<string, string?> WithoutSmtp()
    {
        var settings = fixture.AppSettings();
        settings.Remove("Smtp:Host");
        return settings;
    }

    static string[] Addresses(string prefix) => [.. Enumerable.Range(0, Count).Select(i => $"{prefix}{i}@example.org")];

    static async Task SignUp(SubscriptionsApp app, IEnumerable<string> emails)
    {
        using var client = app.CreateHttpClient();
        foreach (var email in emails)
        {
            var response = await client.PostAsJsonAsync("/api/subscriptions", new { email, consent = true });
            Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
        }
    }

    async Task<T> Scalar<T>(string sql)
    {
        await using var connection = new NpgsqlConnection(Unpooled);
        await connection.OpenAsync();
        return (await connection.ExecuteScalarAsync<T>(sql))!;
    }

    async Task Execute(string sql)
    {
        await using var connection = new NpgsqlConnection(Unpooled);
        await connection.OpenAsync();
        await connection.ExecuteAsync(sql);
    }

    Task WaitUntil(string sql, TimeSpan timeout) => Eventually.TrueAsync(() => Scalar<bool>(sql), timeout, sql);
}
