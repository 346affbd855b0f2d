using System.Globalization;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Dapper;
using Subscriptions.Api.Data;
using Subscriptions.Api.Tests.Hosting;
using Subscriptions.Api.Tests.Infrastructure;

namespace Subscriptions.Api.Tests.Data;

/// <summary>
/// Export and stats read from a real hot standby (pg_basebackup -R of the tests' PostgreSQL,
/// streaming), while the primary takes signups. Pausing the standby's replay shows which server
/// answered: a signup the primary committed is missing from the export until replay resumes.
/// </summary>
[Collection(ApiCollection.Name)]
public sealed class ReplicaReadTests(ReplicaFixture fixture) : IClassFixture<ReplicaFixture>, IAsyncLifetime
{
    readonly HttpClient _client = fixture.App.CreateHttpClient();
    readonly HttpClient _admin = Admin(fixture.App);

    public async Task InitializeAsync()
    {
        await fixture.ResetAsync();
        fixture.App.Logs.Clear();
    }

    public Task DisposeAsync()
    {
        _client.Dispose();
        _admin.Dispose();
        fixture.App.AssertNoErrorsLogged();
        return Task.CompletedTask;
    }

    [Fact]
    public async Task The_export_is_served_by_the_replica_as_of_its_replay_time_while_the_primary_takes_signups()
    {
        await SignUp("before@example.org");
        await fixture.Standby.WaitUntilCaughtUpAsync();
        var caughtUp = await _admin.GetAsync("/api/admin/export");
        Assert.Equal(HttpStatusCode.OK, caughtUp.StatusCode);
        Assert.Contains("before@example.org", await caughtUp.Content.ReadAsStringAsync());
        var before = ReplayedAt(caughtUp);
        Assert.True(before >= await SignedUpAt("before@example.org"), $"replayed at {before:O}");
        Assert.Equal("0", Header(caughtUp, ReplicaState.LagHeader));

        await fixture.Standby.PauseReplayAsync();
        await SignUp("during@example.org");
        Assert.Equal(1, await Primary<int>("SELECT count(*) FROM subscribers WHERE email = 'during@example.org'"));
        await fixture.Standby.WaitUntilReceivedAsync();

        foreach (var format in new[] { "csv", "ndjson" })
        {
            var paused = await _admin.GetAsync($"/api/admin/export?format={format}");
            Assert.Equal(HttpStatusCode.OK, paused.StatusCode);
            var body = await paused.Content.ReadAsStringAsync();
            Assert.Contains("before@example.org", body);
            Assert.DoesNotContain("during@example.org", body);
            Assert.Equal(before, ReplayedAt(paused));
            // received but not replayed: behind by the time since the last replayed commit
            Assert.True(double.Parse(Header(paused, ReplicaState.LagHeader), CultureInfo.InvariantCulture) > 0);
        }

        await fixture.Standby.ResumeReplayAsync();
        await fixture.Standby.WaitUntilCaughtUpAsync();
        var resumed = await _admin.GetAsync("/api/admin/export");
        Assert.Contains("during@example.org", await resumed.Content.ReadAsStringAsync());
        Assert.True(ReplayedAt(resumed) >= await SignedUpAt("during@example.org"));
        Assert.Equal("0", Header(resumed, ReplicaState.LagHeader));
    }

    [Fact]
    public async Task The_export_query_runs_on_the_replica_and_not_on_the_primary()
    {
        await SignUp("reader@example.org");

        // An ACCESS EXCLUSIVE lock taken on the primary is replayed on the standby, where it holds
        // readers back too: while it lasts, the export's query waits, in sight in pg_stat_activity
        // of the server that runs it.
        await using var replica = new Npgsql.NpgsqlConnection(fixture.ReadOnlyConnectionString);
        await replica.OpenAsync();
        // no earlier reader on the standby may still hold the table, or replay waits for it (max_standby_streaming_delay)
        await Eventually.TrueAsync(async () => await replica.ExecuteScalarAsync<long>(
            "SELECT count(*) FROM pg_locks WHERE database = (SELECT oid FROM pg_database WHERE datname = current_database()) AND relation = 'subscriptions'::regclass AND pid <> pg_backend_pid()") == 0,
            TimeSpan.FromSeconds(30), "no reader holds subscriptions on the standby");
        await using var locker = await fixture.Database.OpenConnectionAsync();
        await using var lockHeld = await locker.BeginTransactionAsync();
        await locker.ExecuteAsync("LOCK TABLE subscriptions IN ACCESS EXCLUSIVE MODE", transaction: lockHeld);
        await fixture.Standby.WaitUntilCaughtUpAsync();

        const string exporting = """
            SELECT count(*) FROM pg_stat_activity
            WHERE state = 'active' AND backend_type = 'client backend' AND query LIKE '%FROM subscriptions sub%ORDER BY sub.id%' AND pid <> pg_backend_pid()
            """;
        var export = _admin.GetAsync("/api/admin/export");
        await Eventually.TrueAsync(async () => await replica.ExecuteScalarAsync<long>(exporting) == 1, TimeSpan.FromSeconds(15), "the export's query on the replica");
        Assert.Equal(0, await Primary<long>(exporting));

        await lockHeld.RollbackAsync();
        var response = await export;
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Contains("reader@example.org", await response.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task Stats_count_on_the_replica_and_read_the_outbox_on_the_primary()
    {
        await fixture.Standby.PauseReplayAsync();
        await SignUp("counted@example.org");

        var paused = await Stats();
        Assert.Equal(0, News(paused).GetProperty("pending").GetInt64());
        // the confirmation mail waits (no SMTP server here): the primary's outbox knows it at once
        Assert.Equal(1, paused.GetProperty("outbox").GetProperty("waiting").GetInt64());

        await fixture.Standby.ResumeReplayAsync();
        await fixture.Standby.WaitUntilCaughtUpAsync();
        var resumed = await Stats();
        Assert.Equal(1, News(resumed).GetProperty("pending").GetInt64());
        Assert.Equal(1, News(resumed).GetProperty("signupsLast24h").GetInt64());
    }

    [Fact]
    public async Task Metrics_show_the_replicas_lag_replay_time_and_streaming()
    {
        await SignUp("metered@example.org");
        await fixture.Standby.WaitUntilCaughtUpAsync();
        var replayed = await SignedUpAt("metered@example.org");
        await Eventually.TrueAsync(async () =>
        {
            var metrics = await ObservabilityTests.Metrics(_client);
            return metrics.GetValueOrDefault("subscriptions_replica_streaming") == 1
                && metrics.GetValueOrDefault("subscriptions_replica_lag_seconds", -1) == 0
                && metrics.GetValueOrDefault("subscriptions_replica_replayed_at_seconds") >= (replayed - DateTime.UnixEpoch).TotalSeconds;
        }, TimeSpan.FromSeconds(20), "metrics of a caught-up replica");

        await fixture.Standby.PauseReplayAsync();
        await SignUp("behind@example.org");
        await fixture.Standby.WaitUntilReceivedAsync();
        await Eventually.TrueAsync(
            async () => (await ObservabilityTests.Metrics(_client)).GetValueOrDefault("subscriptions_replica_lag_seconds") > 0,
            TimeSpan.FromSeconds(20), "a lag while replay is paused");
    }

    [Fact]
    public async Task A_stopped_replica_makes_export_and_stats_answer_503_with_retry_after_and_nothing_else()
    {
        await fixture.Standby.StopAsync();

        foreach (var path in new[] { "/api/admin/export", "/api/admin/export?format=ndjson", "/api/admin/stats" })
        {
            var response = await _admin.GetAsync(path);
            Assert.Equal(HttpStatusCode.ServiceUnavailable, response.StatusCode);
            Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
            Assert.Equal(TimeSpan.FromSeconds(DatabaseUnavailableHandler.RetryAfterSeconds), response.Headers.RetryAfter?.Delta);
        }

        // bad input is still refused before any database is asked
        Assert.Equal(HttpStatusCode.BadRequest, (await _admin.GetAsync("/api/admin/export?format=xml")).StatusCode);

        // the primary's work goes on, and the instance stays in its load balancer
        await SignUp("still@example.org");
        Assert.Equal(HttpStatusCode.OK, (await _admin.GetAsync("/api/admin/lists")).StatusCode);
        var ready = await _client.GetAsync("/health/ready");
        Assert.Equal(HttpStatusCode.OK, ready.StatusCode);
        Assert.Equal("Degraded", await ready.Content.ReadAsStringAsync());
        await Eventually.TrueAsync(
            async () => (await ObservabilityTests.Metrics(_client)) is var m && m.GetValueOrDefault("subscriptions_replica_streaming", -1) == 0
                && !m.ContainsKey("subscriptions_replica_lag_seconds"),
            TimeSpan.FromSeconds(20), "streaming 0 and no lag for an unreachable replica");

        await fixture.Standby.StartAsync();
        await fixture.Standby.WaitUntilCaughtUpAsync();
        await Eventually.TrueAsync(async () =>
        {
            var response = await _admin.GetAsync("/api/admin/export");
            return response.StatusCode == HttpStatusCode.OK && (await response.Content.ReadAsStringAsync()).Contains("still@example.org", StringComparison.Ordinal);
        }, TimeSpan.FromSeconds(20), "the export back from the restarted replica");
        Assert.Equal("Healthy", await (await _client.GetAsync("/health/ready")).Content.ReadAsStringAsync());
    }

    [Theory]
    [InlineData("/api/admin/export?format=xml")]
    [InlineData("/api/admin/export?format=")]
    [InlineData("/api/admin/export?list=News!")]
    [InlineData("/api/admin/export?status=gone")]
    [InlineData("/api/admin/export?since=yesterday")]
    [InlineData("/api/admin/export?since=2026-13-45T99:00:00Z")]
    [InlineData("/api/admin/export?list=%FF%FE")]
    [InlineData("/api/admin/stats?days=0")]
    [InlineData("/api/admin/stats?days=abc")]
    [InlineData("/api/admin/stats?days=99999999999999999999")]
    [InlineData("/api/admin/stats?days=")]
    public async Task Hostile_input_to_the_replica_reads_gets_a_problem_and_never_a_5xx(string path)
    {
        var response = await _admin.GetAsync(path);

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        Assert.False(response.Headers.Contains(ReplicaState.ReplayedAtHeader));
    }

    [Theory]
    [InlineData("/api/admin/export", null)]
    [InlineData("/api/admin/export", "wrong-key-0123456789abcdef")]
    [InlineData("/api/admin/stats", null)]
    [InlineData("/api/admin/stats", "wrong-key-0123456789abcdef")]
    public async Task Without_the_admin_key_the_replica_is_not_asked(string path, string? key)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, path);
        if (key is not null)
        {
            request.Headers.Authorization = new("Bearer", key);
        }

        var response = await _client.SendAsync(request);

        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        Assert.False(response.Headers.Contains(ReplicaState.ReplayedAtHeader));
        Assert.False(response.Headers.Contains(ReplicaState.LagHeader));
    }

    [Fact]
    public async Task Without_a_read_only_database_export_and_stats_read_the_primary_and_say_nothing_of_a_replica()
    {
        await using var primaryOnly = new SubscriptionsApp(fixture.ConnectionString, ReplicaFixture.Settings());
        using var admin = Admin(primaryOnly);
        await fixture.Standby.PauseReplayAsync();
        await SignUp("fresh@example.org");

        var export = await admin.GetAsync("/api/admin/export");
        Assert.Contains("fresh@example.org", await export.Content.ReadAsStringAsync());
        Assert.False(export.Headers.Contains(ReplicaState.ReplayedAtHeader));
        Assert.False(export.Headers.Contains(ReplicaState.LagHeader));
        var stats = await admin.GetAsync("/api/admin/stats");
        Assert.Equal(HttpStatusCode.OK, stats.StatusCode);
        Assert.False(stats.Headers.Contains(ReplicaState.LagHeader));
        var ready = await primaryOnly.CreateHttpClient().GetAsync("/health/ready");
        Assert.Equal("Healthy", await ready.Content.ReadAsStringAsync());
        primaryOnly.AssertNoErrorsLogged();
    }

    [Theory]
    [InlineData("/api/admin/export")]
    [InlineData("/api/admin/stats")]
    public async Task The_api_document_names_the_replica_headers(string path)
    {
        var document = await _client.GetFromJsonAsync<JsonElement>("/openapi/v1.json");

        var headers = document.GetProperty("paths").GetProperty(path).GetProperty("get").GetProperty("responses").GetProperty("200").GetProperty("headers");
        Assert.Equal("date-time", headers.GetProperty(ReplicaState.ReplayedAtHeader).GetProperty("schema").GetProperty("format").GetString());
        Assert.Equal("number", headers.GetProperty(ReplicaState.LagHeader).GetProperty("schema").GetProperty("type").GetString());
    }

    async Task SignUp(string email)
    {
        var response = await _client.PostAsJsonAsync("/api/subscriptions", new { email, consent = true });
        Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
    }

    async Task<JsonElement> Stats()
    {
        var response = await _admin.GetAsync("/api/admin/stats");
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.True(response.Headers.Contains(ReplicaState.LagHeader));
        return await response.Content.ReadFromJsonAsync<JsonElement>();
    }

    static JsonElement News(JsonElement stats) =>
        stats.GetProperty("lists").EnumerateArray().Single(l => l.GetProperty("list").GetString() == "news");

    async Task<DateTime> SignedUpAt(string email) =>
        DateTime.SpecifyKind(await Primary<DateTime>("""
            SELECT sub.created_at FROM subscriptions sub JOIN subscribers s ON s.id = sub.subscriber_id WHERE s.email = @email
            """, new { email }), DateTimeKind.Utc);

    async Task<T> Primary<T>(string sql, object? parameters = null)
    {
        await using var connection = await fixture.Database.OpenConnectionAsync();
        return (await connection.ExecuteScalarAsync<T>(sql, parameters))!;
    }

    static string Header(HttpResponseMessage response, string name) =>
        Assert.Single(response.Headers.GetValues(name));

    static DateTime ReplayedAt(HttpResponseMessage response) =>
        DateTime.Parse(Header(response, ReplicaState.ReplayedAtHeader), CultureInfo.InvariantCulture, DateTimeStyles.AdjustToUniversal | DateTimeStyles.AssumeUniversal);

    static HttpClient Admin(SubscriptionsApp app)
    {
        var client = app.CreateHttpClient();
        client.DefaultRequestHeaders.Authorization = new("Bearer", ApiFixture.AdminKey);
        return client;
    }
}
