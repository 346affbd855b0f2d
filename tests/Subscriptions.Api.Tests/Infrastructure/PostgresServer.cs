using Npgsql;
using Testcontainers.PostgreSql;

namespace Subscriptions.Api.Tests.Infrastructure;

/// <summary>A throwaway PostgreSQL started by Testcontainers, shared by the tests of a collection.</summary>
public sealed class PostgresServer : IAsyncDisposable
{
    // The public image where Docker runs; tests/run.sh builds the same major version locally for Podman.
    static readonly string Image = Environment.GetEnvironmentVariable("PG_IMAGE") ?? "postgres:15.10";

    readonly PostgreSqlContainer _container = new PostgreSqlBuilder(Image).WithLocalNetworking().Build();

    public string ConnectionString => _container.GetConnectionString();

    public Task StartAsync() => _container.StartAsync();

    /// <summary>A new empty database on the same server, for tests that need a fresh schema.</summary>
    public async Task<string> CreateDatabaseAsync()
    {
        var name = $"t_{Guid.NewGuid():N}";
        await using var connection = new NpgsqlConnection(ConnectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand($"CREATE DATABASE {name}", connection);
        await command.ExecuteNonQueryAsync();
        return new NpgsqlConnectionStringBuilder(ConnectionString) { Database = name }.ConnectionString;
    }

    public async Task DropDatabaseAsync(string connectionString)
    {
        var name = new NpgsqlConnectionStringBuilder(connectionString).Database;
        await using var connection = new NpgsqlConnection(ConnectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand($"DROP DATABASE {name} WITH (FORCE)", connection);
        await command.ExecuteNonQueryAsync();
    }

    public ValueTask DisposeAsync() => _container.DisposeAsync();
}
