using Dapper;
using Npgsql;

namespace Subscriptions.Api.Tests.Infrastructure;

/// <summary>One PostgreSQL and one running service for every test of the "Api" collection.</summary>
public sealed class ApiFixture : IAsyncLifetime
{
    public PostgresServer Postgres { get; } = new();

    public SubscriptionsApp App { get; private set; } = null!;

    public NpgsqlDataSource Database { get; private set; } = null!;

    public string ConnectionString { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        await Postgres.StartAsync();
        ConnectionString = await Postgres.CreateDatabaseAsync();
        App = new SubscriptionsApp(ConnectionString);
        Database = NpgsqlDataSource.Create(ConnectionString);
    }

    /// <summary>Empties what tests write; the migrated schema and the default list stay.</summary>
    public async Task ResetAsync()
    {
        await using var connection = await Database.OpenConnectionAsync();
        await connection.ExecuteAsync("""
            TRUNCATE subscribers, subscriptions, subscription_events, outbox RESTART IDENTITY CASCADE;
            DELETE FROM lists WHERE slug <> 'news';
            """);
    }

    public async Task DisposeAsync()
    {
        await App.DisposeAsync();
        await Database.DisposeAsync();
        await Postgres.DisposeAsync();
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

    public Task InitializeAsync() => Fixture.ResetAsync();

    public Task DisposeAsync()
    {
        Client.Dispose();
        return Task.CompletedTask;
    }
}
