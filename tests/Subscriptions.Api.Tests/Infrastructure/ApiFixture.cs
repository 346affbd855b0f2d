using System.Diagnostics;
using Dapper;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;
using Subscriptions.Api.Signup;

namespace Subscriptions.Api.Tests.Infrastructure;

/// <summary>One PostgreSQL, one SMTP server and one running service for every test of the "Api" collection.</summary>
public sealed class ApiFixture : IAsyncLifetime
{
    public PostgresServer Postgres { get; } = new();

    public MailServer Mail { get; } = new();

    public SubscriptionsApp App { get; private set; } = null!;

    public NpgsqlDataSource Database { get; private set; } = null!;

    public string ConnectionString { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        await Task.WhenAll(Postgres.StartAsync(), Mail.StartAsync());
        ConnectionString = await Postgres.CreateDatabaseAsync();
        App = new SubscriptionsApp(ConnectionString, AppSettings());
        Database = NpgsqlDataSource.Create(ConnectionString);
    }

    /// <summary>The service's settings in tests: this SMTP server, and retries quick enough to watch.</summary>
    public Dictionary<string, string?> AppSettings(int? smtpPort = null)
    {
        var settings = Mail.SmtpSettings(smtpPort);
        settings["Outbox:RetryBaseDelay"] = "00:00:00.200";
        settings["Outbox:RetryMaxDelay"] = "00:00:01";
        settings["Outbox:PollInterval"] = "00:00:01";
        settings["Admin:ApiKey"] = AdminKey;
        // tests of wrong keys share this service with everything else; one test checks the limit itself
        settings["Admin:FailedAttemptsPerMinute"] = "100000";
        // every test client is 127.0.0.1; the rate limit tests run services of their own
        settings["RateLimits:Signup:Burst"] = "100000";
        settings["RateLimits:Links:Burst"] = "100000";
        // every bounce webhook provider configured, with keys openssl made for the tests
        foreach (var (key, value) in ProviderSigning.Settings())
        {
            settings[key] = value;
        }

        return settings;
    }

    public const string AdminKey = "test-admin-key-0123456789";

    /// <summary>Another instance of the service on this database, with some settings changed (null removes one).</summary>
    public SubscriptionsApp StartApp(params (string Key, string? Value)[] overrides)
    {
        var settings = AppSettings();
        foreach (var (key, value) in overrides)
        {
            if (value is null)
            {
                settings.Remove(key);
            }
            else
            {
                settings[key] = value;
            }
        }

        return new SubscriptionsApp(ConnectionString, settings);
    }

    /// <summary>Empties what tests write; the migrated schema and the default list stay.</summary>
    public async Task ResetAsync()
    {
        await EmptyAsync(Database);
        App.Services.GetRequiredService<SignupLists>().Invalidate();
        await Mail.ClearAsync();
    }

    /// <summary>The one place that knows what tests write, for every fixture's reset.</summary>
    /// <remarks>
    /// A mail the service claimed before the reset would still be sent after it, into the next test's
    /// inbox: the reset waits (up to 10 s) until no mail is out for delivery, holding the outbox
    /// meanwhile so that none is claimed between the look and the TRUNCATE.
    /// </remarks>
    public static async Task EmptyAsync(NpgsqlDataSource database)
    {
        var patience = Stopwatch.StartNew();
        var deadlocks = 0;
        while (true)
        {
            try
            {
                await using var connection = await database.OpenConnectionAsync();
                await using var transaction = await connection.BeginTransactionAsync();
                var mailOut = await connection.ExecuteScalarAsync<bool>("""
                    LOCK TABLE outbox IN ACCESS EXCLUSIVE MODE;
                    SELECT EXISTS (SELECT FROM outbox WHERE claim IS NOT NULL AND kind <> 'webhook');
                    """, transaction: transaction);
                if (mailOut && patience.Elapsed < TimeSpan.FromSeconds(10))
                {
                    await transaction.RollbackAsync();
                    await Task.Delay(50);
                    continue;
                }

                await connection.ExecuteAsync("""
                    TRUNCATE subscribers, subscriptions, subscription_events, outbox, tokens, erasures, webhook_endpoints,
                        suppressions, bounce_events, bounce_webhook_nonces RESTART IDENTITY CASCADE;
                    DELETE FROM list_translations;
                    DELETE FROM lists WHERE slug <> 'news';
                    UPDATE lists SET thank_you_url = NULL, confirmed_url = NULL, error_url = NULL, welcome = false, hidden = false, archived_at = NULL;
                    """, transaction: transaction);
                await transaction.CommitAsync();
                break;
            }
            catch (PostgresException ex) when (ex.SqlState == PostgresErrorCodes.DeadlockDetected && ++deadlocks < 5)
            {
                // the service's mail dispatcher held a row the TRUNCATE needed: try again
            }
        }
    }

    public async Task DisposeAsync()
    {
        await App.DisposeAsync();
        await Database.DisposeAsync();
        await Postgres.DisposeAsync();
        await Mail.DisposeAsync();
    }
}

[CollectionDefinition(Name)]
public sealed class ApiCollection : ICollectionFixture<ApiFixture>
{
    public const string Name = "Api";
}

/// <summary>Base for tests of the running service: the database is emptied before each test.</summary>
[Collection(ApiCollection.Name)]
public abstract class ApiTest(ApiFixture fixture) : IAsyncLifetime
{
    protected ApiFixture Fixture { get; } = fixture;

    protected HttpClient Client { get; } = fixture.App.CreateHttpClient();

    protected NpgsqlDataSource Database => Fixture.Database;

    /// <summary>A client that sends the admin key.</summary>
    protected HttpClient AdminClient()
    {
        var client = Fixture.App.CreateHttpClient();
        client.DefaultRequestHeaders.Authorization = new("Bearer", ApiFixture.AdminKey);
        return client;
    }

    protected async Task<T> Scalar<T>(string sql, object? parameters = null)
    {
        await using var connection = await Database.OpenConnectionAsync();
        return (await connection.ExecuteScalarAsync<T>(sql, parameters))!;
    }

    protected async Task Execute(string sql, object? parameters = null)
    {
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                await using var connection = await Database.OpenConnectionAsync();
                await connection.ExecuteAsync(sql, parameters);
                return;
            }
            catch (PostgresException ex) when (ex.SqlState == PostgresErrorCodes.DeadlockDetected && attempt < 5)
            {
                // the service's outbox workers held rows a TRUNCATE or UPDATE of the test needed: try again
            }
        }
    }

    public async Task InitializeAsync()
    {
        await Fixture.ResetAsync();
        Fixture.App.Logs.Clear();
    }

    /// <summary>Whatever a test did, the service must not have logged an error doing it.</summary>
    public Task DisposeAsync()
    {
        Client.Dispose();
        Fixture.App.AssertNoErrorsLogged();
        return Task.CompletedTask;
    }
}
