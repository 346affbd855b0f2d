using Npgsql;
using Testcontainers.PostgreSql;

namespace Subscriptions.Api.Tests.Infrastructure;

/// <summary>A throwaway PostgreSQL started by Testcontainers, shared by the tests of a collection.</summary>
public sealed class PostgresServer : IAsyncDisposable
{
    // The public image where Docker runs; tests/run.sh builds the same major version locally for Podman.
    static readonly string Image = Environment.GetEnvironmentVariable("PG_IMAGE") ?? "postgres:15.10";

    const int Port = 5432;

    readonly PostgreSqlContainer _container;

    /// <param name="durableCommits">
    /// Testcontainers starts PostgreSQL with synchronous_commit=off, which acknowledges a commit
    /// before its WAL is written, and the engine stops a container with a kill: a test that
    /// stops the server would lose acknowledged commits to its own setup. Such a test asks for
    /// the production default instead.
    /// </param>
    public PostgresServer(bool durableCommits = false)
    {
        // The host port is chosen here, not by the engine, so it stays the same across a stop and
        // a start: the outage tests stop the server, and the service keeps its connection string.
        ContainerEngine.EnsureAvailable();
        var builder = new PostgreSqlBuilder(Image)
            .WithPortBinding(LocalNetworking.FreePort(), Port)
            .WithLocalNetworking();
        _container = (durableCommits ? builder.WithCommand("-c", "synchronous_commit=on") : builder).Build();
    }

    public string ConnectionString => _container.GetConnectionString();

    public Task StartAsync() => _container.StartAsync();

    /// <summary>Stops the server as an operator would (a fast shutdown); its data stays for the next start.</summary>
    public Task StopAsync() => _container.StopAsync();

    /// <summary>
    /// Lets a standby stream from this server (<see cref="StandbyServer"/>): the image's pg_hba.conf
    /// admits every database but not replication, so a line for it is added and the file reloaded.
    /// wal_level (replica) and max_wal_senders (10) are PostgreSQL's defaults already.
    /// </summary>
    public async Task AllowReplicationAsync()
    {
        var result = await _container.ExecAsync(["sh", "-c", "echo 'host replication all all scram-sha-256' >> \"$PGDATA/pg_hba.conf\""]);
        Assert.True(result.ExitCode == 0, $"pg_hba.conf: {result.Stderr}");
        await using var connection = new NpgsqlConnection(ConnectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand("SELECT pg_reload_conf()", connection);
        await command.ExecuteNonQueryAsync();
    }

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
