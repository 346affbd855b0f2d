using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Dapper;
using Npgsql;
using Subscriptions.Api.Tests.Infrastructure;
using Xunit.Abstractions;

namespace Subscriptions.Api.Tests.Data;

/// <summary>
/// PostgreSQL stopped, too slow, or out of pooled connections: callers get 503 with Retry-After,
/// never a 500, and nothing answered 202 is lost. Each test runs a service on a database of its own.
/// </summary>
[Collection(ApiCollection.Name)]
public sealed class DatabaseOutageTests(ApiFixture fixture, ITestOutputHelper output)
{
    const int Clients = 16;
    static readonly TimeSpan BeforeOutage = TimeSpan.FromSeconds(6);
    static readonly TimeSpan OutageLength = TimeSpan.FromSeconds(5);
    static readonly TimeSpan AfterRecovery = TimeSpan.FromSeconds(4);

    // Each client waits this long between signups: enough load to have hundreds of requests
    // meet the outage, without a mail per signup swamping the two cores the suite shares.
    static readonly TimeSpan Pace = TimeSpan.FromMilliseconds(100);

    sealed record Answer(string Email, HttpStatusCode Status, bool HasRetryAfter, string? ContentType, long At);

    [Fact]
    public async Task A_restart_under_concurrent_signups_answers_503_with_retry_after_and_keeps_every_accepted_signup()
    {
        await using var postgres = new PostgresServer(durableCommits: true);
        await postgres.StartAsync();
        var connectionString = await postgres.CreateDatabaseAsync();
        await using var app = new SubscriptionsApp(connectionString, fixture.AppSettings());
        using var probe = app.CreateHttpClient();
        using var admin = app.CreateHttpClient();
        admin.DefaultRequestHeaders.Authorization = new("Bearer", ApiFixture.AdminKey);

        var answers = new ConcurrentQueue<Answer>();
        using var stop = new CancellationTokenSource();
        var clients = Enumerable.Range(0, Clients).Select(c => SignUpUntilStopped(app, c, answers, stop.Token)).ToList();

        await Task.Delay(BeforeOutage);
        var outage = Stopwatch.StartNew();
        await postgres.StopAsync();
        output.WriteLine($"PostgreSQL stopped after {outage.ElapsedMilliseconds} ms");

        var ready = await probe.GetAsync("/health/ready");
        Assert.Equal(HttpStatusCode.ServiceUnavailable, ready.StatusCode);
        Assert.Equal("Unhealthy", await ready.Content.ReadAsStringAsync());

        var lists = await admin.GetAsync("/api/admin/lists");
        Assert.Equal(HttpStatusCode.ServiceUnavailable, lists.StatusCode);
        Assert.Equal("application/problem+json", lists.Content.Headers.ContentType?.MediaType);
        Assert.Equal(TimeSpan.FromSeconds(5), lists.Headers.RetryAfter?.Delta);

        // a reader's browser posting the plain form gets a page, not JSON
        var form = await probe.PostAsync("/api/subscriptions", new FormUrlEncodedContent(
            [new("email", "reader@example.org"), new("consent", "true")]));
        Assert.Equal(HttpStatusCode.ServiceUnavailable, form.StatusCode);
        Assert.Equal("text/html", form.Content.Headers.ContentType?.MediaType);
        Assert.NotNull(form.Headers.RetryAfter);

        await Task.Delay(OutageLength - outage.Elapsed is var rest && rest > TimeSpan.Zero ? rest : TimeSpan.Zero);
        await postgres.StartAsync();
        output.WriteLine($"PostgreSQL started again after {outage.ElapsedMilliseconds} ms");
        await WaitUntilReady(probe, TimeSpan.FromSeconds(30));
        var recovered = Stopwatch.GetTimestamp();
        output.WriteLine($"ready again after {outage.ElapsedMilliseconds} ms");

        await Task.Delay(AfterRecovery);
        await stop.CancelAsync();
        await Task.WhenAll(clients);

        var all = answers.ToList();
        var accepted = all.Where(a => a.Status == HttpStatusCode.Accepted).Select(a => a.Email).ToArray();
        var unavailable = all.Where(a => a.Status == HttpStatusCode.ServiceUnavailable).ToList();
        await using var database = NpgsqlDataSource.Create(connectionString);
        await using var connection = await database.OpenConnectionAsync();
        var stored = await connection.ExecuteScalarAsync<long>(
            "SELECT count(*) FROM subscribers WHERE email = ANY(@accepted)", new { accepted });
        output.WriteLine($"{all.Count} signups: {accepted.Length} answered 202, {unavailable.Count} answered 503; "
            + $"{stored} of the 202s found in the subscribers table");

        Assert.All(all, a => Assert.True(a.Status is HttpStatusCode.Accepted or HttpStatusCode.ServiceUnavailable, $"{a.Email}: {a.Status}"));
        Assert.NotEmpty(unavailable);
        Assert.All(unavailable, a => Assert.True(a.HasRetryAfter && a.ContentType == "application/problem+json", $"{a.Email}: {a.ContentType}"));
        Assert.Equal(accepted.Length, stored);
        Assert.Contains(all, a => a.At > recovered && a.Status == HttpStatusCode.Accepted);
        app.AssertNoErrorsLogged();
    }

    [Theory]
    [InlineData("Options=-c statement_timeout=300")] // PostgreSQL cancels the statement itself (57014)
    [InlineData("Command Timeout=1")] // Npgsql stops waiting for the answer
    public async Task A_database_too_slow_to_answer_gives_503_and_the_service_carries_on(string setting)
    {
        var connectionString = await fixture.Postgres.CreateDatabaseAsync();
        await using var app = new SubscriptionsApp($"{connectionString};{setting}", fixture.AppSettings());
        await using var database = NpgsqlDataSource.Create(connectionString);
        using var client = app.CreateHttpClient();

        await using (await HoldWritesAsync(database, "subscribers"))
        {
            var slow = await client.PostAsJsonAsync("/api/subscriptions", new { email = "slow@example.org", consent = true });
            Assert.Equal(HttpStatusCode.ServiceUnavailable, slow.StatusCode);
            Assert.NotNull(slow.Headers.RetryAfter);
            Assert.Equal("application/problem+json", slow.Content.Headers.ContentType?.MediaType);
            Assert.Equal("Service temporarily unavailable", (await slow.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("title").GetString());

            // in the reader's language, as every refusal
            using var spanish = new HttpRequestMessage(HttpMethod.Post, "/api/subscriptions")
            {
                Content = JsonContent.Create(new { email = "lento@example.org", consent = true }),
                Headers = { AcceptLanguage = { new("es") } },
            };
            var problem = await (await client.SendAsync(spanish)).Content.ReadFromJsonAsync<JsonElement>();
            Assert.Equal(503, problem.GetProperty("status").GetInt32());
            Assert.Equal("Servicio no disponible temporalmente", problem.GetProperty("title").GetString());
            Assert.Equal("Ahora mismo no se puede acceder a la base de datos. Vuelve a enviar la solicitud dentro de 5 segundos; "
                + "una suscripción enviada dos veces se guarda una sola vez.", problem.GetProperty("detail").GetString());
        }

        var later = await client.PostAsJsonAsync("/api/subscriptions", new { email = "slow@example.org", consent = true });
        Assert.Equal(HttpStatusCode.Accepted, later.StatusCode);
        app.AssertNoErrorsLogged();
    }

    [Fact]
    public async Task An_exhausted_connection_pool_gives_503_and_the_signups_that_held_it_are_kept()
    {
        var connectionString = await fixture.Postgres.CreateDatabaseAsync();
        var settings = fixture.AppSettings();
        settings.Remove("Smtp:Host"); // no dispatcher taking a connection of the two now and then
        await using var app = new SubscriptionsApp($"{connectionString};Maximum Pool Size=2;Timeout=1", settings);
        await using var database = NpgsqlDataSource.Create(connectionString);
        using var client = app.CreateHttpClient();
        // the jobs that run at start (retention deletes from subscribers) are done before the table is held,
        // so that the two connections go to the two signups
        Assert.Equal(HttpStatusCode.Accepted, (await client.PostAsJsonAsync("/api/subscriptions", new { email = "early@example.org", consent = true })).StatusCode);
        await WaitUntil(database, "SELECT count(*) = 0 FROM pg_stat_activity WHERE datname = current_database() AND state = 'active' AND pid <> pg_backend_pid()", TimeSpan.FromSeconds(10));

        Task<HttpResponseMessage> first, second;
        await using (await HoldWritesAsync(database, "subscribers"))
        {
            first = client.PostAsJsonAsync("/api/subscriptions", new { email = "first@example.org", consent = true });
            second = client.PostAsJsonAsync("/api/subscriptions", new { email = "second@example.org", consent = true });
            await WaitUntil(database, "SELECT count(*) = 2 FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'", TimeSpan.FromSeconds(10));

            var third = await client.PostAsJsonAsync("/api/subscriptions", new { email = "third@example.org", consent = true });
            Assert.Equal(HttpStatusCode.ServiceUnavailable, third.StatusCode);
            Assert.NotNull(third.Headers.RetryAfter);
            Assert.Equal(HttpStatusCode.ServiceUnavailable, (await client.GetAsync("/health/ready")).StatusCode);
        }

        Assert.Equal(HttpStatusCode.Accepted, (await first).StatusCode);
        Assert.Equal(HttpStatusCode.Accepted, (await second).StatusCode);
        await using var connection = await database.OpenConnectionAsync();
        Assert.Equal(2, await connection.ExecuteScalarAsync<long>(
            "SELECT count(*) FROM subscribers WHERE email IN ('first@example.org', 'second@example.org')"));
        Assert.Equal(HttpStatusCode.Accepted,
            (await client.PostAsJsonAsync("/api/subscriptions", new { email = "third@example.org", consent = true })).StatusCode);
        app.AssertNoErrorsLogged();
    }

    static async Task SignUpUntilStopped(SubscriptionsApp app, int client, ConcurrentQueue<Answer> answers, CancellationToken stop)
    {
        using var http = app.CreateHttpClient();
        for (var n = 0; !stop.IsCancellationRequested; n++)
        {
            // not cancelled midway: every request gets its answer, so none is left unknown
            var email = $"outage-{client}-{n}@example.org";
            using var response = await http.PostAsJsonAsync("/api/subscriptions", new { email, consent = true }, CancellationToken.None);
            answers.Enqueue(new(email, response.StatusCode, response.Headers.RetryAfter is not null,
                response.Content.Headers.ContentType?.MediaType, Stopwatch.GetTimestamp()));
            await Task.Delay(Pace, CancellationToken.None);
        }
    }

    /// <summary>
    /// A transaction holding a SHARE lock: reads of the table go on, writes wait until it is
    /// disposed (rolled back) — PostgreSQL reachable, but too slow for whoever writes.
    /// </summary>
    static async Task<IAsyncDisposable> HoldWritesAsync(NpgsqlDataSource database, string table)
    {
        var connection = await database.OpenConnectionAsync();
        var transaction = await connection.BeginTransactionAsync();
        await connection.ExecuteAsync($"LOCK TABLE {table} IN SHARE MODE", transaction: transaction);
        return connection;
    }

    static async Task WaitUntilReady(HttpClient client, TimeSpan timeout)
    {
        var deadline = Stopwatch.StartNew();
        while ((await client.GetAsync("/health/ready")).StatusCode != HttpStatusCode.OK)
        {
            Assert.True(deadline.Elapsed < timeout, "the service did not become ready again");
            await Task.Delay(100);
        }
    }

    static async Task WaitUntil(NpgsqlDataSource database, string sql, TimeSpan timeout)
    {
        var deadline = Stopwatch.StartNew();
        while (true)
        {
            await using var connection = await database.OpenConnectionAsync();
            if (await connection.ExecuteScalarAsync<bool>(sql))
            {
                return;
            }

            Assert.True(deadline.Elapsed < timeout, $"timed out waiting for: {sql}");
            await Task.Delay(50);
        }
    }
}
