using System.Net;
using System.Net.Http.Json;
using Dapper;
using Npgsql;

namespace Subscriptions.Api.Tests.Infrastructure;

/// <summary>
/// Base for tests that run services of their own (several instances, faulty relays) on a fresh
/// database of the shared PostgreSQL, so that nothing else's dispatcher touches their outbox.
/// </summary>
[Collection(ApiCollection.Name)]
public abstract class OwnDatabaseTest(ApiFixture fixture) : IAsyncLifetime
{
    protected ApiFixture Fixture { get; } = fixture;

    protected NpgsqlDataSource Database { get; private set; } = null!;

    protected string ConnectionString { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        ConnectionString = await Fixture.Postgres.CreateDatabaseAsync();
        Database = NpgsqlDataSource.Create(ConnectionString);
    }

    public async Task DisposeAsync() => await Database.DisposeAsync();

    /// <summary>The service on this test's database with the fixture's settings, changed by <paramref name="overrides"/>.</summary>
    protected SubscriptionsApp StartApp(int? smtpPort = null, params (string Key, string? Value)[] overrides) =>
        new(ConnectionString, Settings(smtpPort, overrides));

    protected Dictionary<string, string?> Settings(int? smtpPort = null, params (string Key, string? Value)[] overrides)
    {
        var settings = Fixture.AppSettings(smtpPort);
        foreach (var (key, value) in overrides)
        {
            settings[key] = value;
        }

        return settings;
    }

    protected static async Task SignUp(HttpClient client, IEnumerable<string> emails)
    {
        foreach (var email in emails)
        {
            var response = await client.PostAsJsonAsync("/api/subscriptions", new { email, consent = true });
            Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
        }
    }

    protected static async Task SignUp(SubscriptionsApp app, IEnumerable<string> emails)
    {
        using var client = app.CreateHttpClient();
        await SignUp(client, emails);
    }

    protected async Task<T> Scalar<T>(string sql)
    {
        await using var connection = await Database.OpenConnectionAsync();
        return (await connection.ExecuteScalarAsync<T>(sql))!;
    }

    /// <summary>Runs one statement on this test's database.</summary>
    protected async Task Execute(string sql)
    {
        await using var connection = await Database.OpenConnectionAsync();
        await connection.ExecuteAsync(sql);
    }

    /// <summary>Polls (bounded) until the query answers true; on a timeout the outbox's state is in the message.</summary>
    protected async Task WaitUntil(string sql, TimeSpan timeout)
    {
        try
        {
            await Eventually.TrueAsync(() => Scalar<bool>(sql), timeout, sql);
        }
        catch (Xunit.Sdk.XunitException)
        {
            await using var connection = await Database.OpenConnectionAsync();
            var rows = await connection.QueryAsync<string>("""
                SELECT concat_ws(' ', id, kind, 'attempts', attempts, 'due in', due_at - now(), 'locked', locked_until, sent_at, dead_at, last_error)
                FROM outbox ORDER BY id
                """);
            Assert.Fail($"timed out waiting for: {sql}\noutbox:\n{string.Join('\n', rows)}");
        }
    }

    protected static string[] Addresses(int count, string prefix) =>
        [.. Enumerable.Range(0, count).Select(i => $"{prefix}{i}@example.org")];
}

/// <summary>The one polling helper: real servers answer in their own time.</summary>
public static class Eventually
{
    public static async Task TrueAsync(Func<Task<bool>> condition, TimeSpan timeout, string what)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (!await condition())
        {
            Assert.True(DateTime.UtcNow < deadline, $"timed out waiting for: {what}");
            await Task.Delay(50);
        }
    }
}
