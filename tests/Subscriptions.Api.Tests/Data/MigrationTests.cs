using Dapper;
using Microsoft.Extensions.Logging.Abstractions;
using Npgsql;
using Subscriptions.Api.Data;
using Subscriptions.Api.Tests.Infrastructure;

namespace Subscriptions.Api.Tests.Data;

[Collection(ApiCollection.Name)]
public class MigrationTests(ApiFixture fixture)
{
    static async Task<T> Query<T>(string connectionString, string sql)
    {
        await using var connection = new NpgsqlConnection(connectionString);
        return await connection.ExecuteScalarAsync<T>(sql) ?? throw new InvalidOperationException("no value");
    }

    static async Task Migrate(string connectionString)
    {
        await using var dataSource = NpgsqlDataSource.Create(connectionString);
        await new DatabaseMigrator(dataSource, NullLogger<DatabaseMigrator>.Instance).MigrateAsync(CancellationToken.None);
    }

    [Fact]
    public async Task Migrating_twice_changes_nothing_the_second_time()
    {
        var database = await fixture.Postgres.CreateDatabaseAsync();

        await Migrate(database);
        var applied = await Query<long>(database, "SELECT count(*) FROM schemaversions");
        await Migrate(database);

        Assert.Equal(applied, await Query<long>(database, "SELECT count(*) FROM schemaversions"));
        Assert.Equal(Directory.GetFiles(Path.Combine(RepositoryPaths.Root, "migrations"), "*.sql").Length, applied);
        Assert.Equal("News", await Query<string>(database, "SELECT name FROM lists WHERE slug = 'news'"));
    }

    [Fact]
    public async Task Hosts_starting_together_apply_each_script_once()
    {
        var database = await fixture.Postgres.CreateDatabaseAsync();

        // separate data sources, as separate processes would have
        await Task.WhenAll(Enumerable.Range(0, 4).Select(_ => Task.Run(() => Migrate(database))));

        Assert.Equal(0, await Query<long>(database,
            "SELECT count(*) FROM (SELECT scriptname FROM schemaversions GROUP BY scriptname HAVING count(*) > 1) d"));
        Assert.Equal(1, await Query<long>(database, "SELECT count(*) FROM lists WHERE slug = 'news'"));
    }

    [Fact]
    public async Task Migrate_only_migrates_and_exits_without_serving()
    {
        var database = await fixture.Postgres.CreateDatabaseAsync();

        var (exitCode, _, stderr) = await ServiceProcess.RunAsync(["--migrate-only", "--urls", "http://127.0.0.1:0"],
            new() { ["ConnectionStrings__Subscriptions"] = database });

        Assert.True(exitCode == 0, stderr);
        Assert.Equal(1, await Query<long>(database, "SELECT count(*) FROM lists WHERE slug = 'news'"));
    }

    [Fact]
    public async Task A_start_that_cannot_log_in_stops_at_once_with_one_line()
    {
        var database = new NpgsqlConnectionStringBuilder(await fixture.Postgres.CreateDatabaseAsync()) { Password = "not-the-password" };

        var (exitCode, _, stderr) = await ServiceProcess.RunAsync(["--migrate-only"],
            new() { ["ConnectionStrings__Subscriptions"] = database.ConnectionString }, TimeSpan.FromSeconds(30));

        Assert.Equal(1, exitCode);
        var line = Assert.Single(stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.StartsWith("Database error: 28P01: password authentication failed", line, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_start_waits_for_a_database_it_cannot_reach_yet()
    {
        var database = new NpgsqlConnectionStringBuilder(await fixture.Postgres.CreateDatabaseAsync());
        // the database's network is not up for the first seconds: connections are accepted and meet silence
        await using var network = new RelayProxy(database.Port) { SilentUntil = DateTime.UtcNow.AddSeconds(4) };
        database.Port = network.Port;
        database.Timeout = 1;

        var (exitCode, stdout, stderr) = await ServiceProcess.RunAsync(["--migrate-only"],
            new() { ["ConnectionStrings__Subscriptions"] = database.ConnectionString }, TimeSpan.FromSeconds(50));

        Assert.True(exitCode == 0, stderr);
        Assert.Contains("PostgreSQL cannot be reached yet", stdout, StringComparison.Ordinal);
        Assert.True(network.SilentConnections > 0);
        Assert.Equal(1, await Query<long>(database.ConnectionString, "SELECT count(*) FROM lists WHERE slug = 'news'"));
    }

    [Fact]
    public async Task A_script_that_cannot_get_its_lock_stops_the_start_at_once_with_one_line()
    {
        var database = await fixture.Postgres.CreateDatabaseAsync();
        await Migrate(database);
        await using var holder = new NpgsqlConnection(database);
        await holder.OpenAsync();
        // 0019 is to run again (it alters the outbox), and another session holds the outbox meanwhile
        await holder.ExecuteAsync("DELETE FROM schemaversions WHERE scriptname LIKE '%0019_outbox_claims_in_place.sql'");
        await using var transaction = await holder.BeginTransactionAsync();
        await holder.ExecuteAsync("LOCK TABLE outbox IN ACCESS SHARE MODE", transaction: transaction);
        var impatient = new NpgsqlConnectionStringBuilder(database) { Options = "-c lock_timeout=500" };

        var started = System.Diagnostics.Stopwatch.StartNew();
        var (exitCode, _, stderr) = await ServiceProcess.RunAsync(["--migrate-only"],
            new() { ["ConnectionStrings__Subscriptions"] = impatient.ConnectionString }, TimeSpan.FromSeconds(50));

        // a lock timeout (which Npgsql calls transient) is the script's failure, not a database still out of reach
        Assert.Equal(1, exitCode);
        var line = Assert.Single(stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.StartsWith("Database error: Migration ", line, StringComparison.Ordinal);
        Assert.Contains("55P03", line, StringComparison.Ordinal);
        Assert.True(started.Elapsed < TimeSpan.FromSeconds(30), $"the start took {started.Elapsed}");
    }
}
