using System.Globalization;
using Dapper;
using Npgsql;

namespace Subscriptions.Api.Tests.Infrastructure;

/// <summary>
/// A hot standby of a test's PostgreSQL, streaming from it: <c>pg_basebackup -R</c> (with a
/// replication slot, so a standby stopped for a while finds its WAL kept), then PostgreSQL's own
/// server started on that copy as a local process on 127.0.0.1 and a free port. Needs the
/// PostgreSQL binaries of the primary's major version on this machine (tests/run.sh installs
/// Debian's); as root, they run as the postgres user, as the server refuses root.
/// </summary>
public sealed class StandbyServer : IAsyncDisposable
{
    static readonly TimeSpan ToolTimeout = TimeSpan.FromSeconds(90);

    readonly string _bin;
    readonly string _directory;
    readonly string _primary;
    readonly string _slot;
    readonly string _serverOptions;
    readonly string? _user = Environment.UserName == "root" ? "postgres" : null;

    StandbyServer(string bin, string primary, string slot, string serverOptions, int port)
    {
        _bin = bin;
        _primary = primary;
        _slot = slot;
        _serverOptions = serverOptions;
        Port = port;
        // pg_basebackup makes it (0700, owned by whoever runs it); the log and the socket live in it
        _directory = Path.Combine(Path.GetTempPath(), $"standby-{Guid.NewGuid():N}");
    }

    public int Port { get; }

    public bool IsRunning { get; private set; }

    /// <summary>Copies <paramref name="primary"/> (which must allow replication: <see cref="PostgresServer.AllowReplicationAsync"/>) and starts the standby.</summary>
    public static async Task<StandbyServer> StartAsync(PostgresServer primary)
    {
        var connection = new NpgsqlConnectionStringBuilder(primary.ConnectionString);
        await using var source = new NpgsqlConnection(primary.ConnectionString);
        await source.OpenAsync();
        var version = await source.ExecuteScalarAsync<int>("SELECT current_setting('server_version_num')::int");

        // A hot standby refuses to start with less of these than its primary has; the primary's
        // may come from its command line, which the copy does not carry.
        var limits = await source.QueryAsync<(string Name, string Setting)>("""
            SELECT name, setting FROM pg_settings
            WHERE name IN ('max_connections', 'max_worker_processes', 'max_wal_senders', 'max_prepared_transactions', 'max_locks_per_transaction')
            """);
        var port = LocalNetworking.FreePort();
        var standby = new StandbyServer(BinDirectory(version / 10000), primary.ConnectionString, $"standby_{Guid.NewGuid():N}", string.Join(' ',
            [$"-p {port}", "-c listen_addresses=127.0.0.1", "-c fsync=off", "-c hot_standby=on", .. limits.Select(l => $"-c {l.Name}={l.Setting}")]), port);

        // The line that lets replication in was just reloaded; a first attempt may still meet the old file.
        for (var attempt = 1; ; attempt++)
        {
            var (exitCode, output) = await standby.Run("pg_basebackup",
                ["-d", $"host={connection.Host} port={connection.Port} user={connection.Username} password={connection.Password}",
                 "-D", standby._directory, "-R", "-X", "stream", "-C", "-S", standby._slot, "-c", "fast", "--no-sync"]);
            if (exitCode == 0)
            {
                break;
            }

            Assert.True(attempt < 3, $"pg_basebackup failed: {output}");
            await Task.Delay(TimeSpan.FromSeconds(1));
        }

        await standby.StartAsync();
        return standby;
    }

    /// <summary>A connection string for <paramref name="database"/> on the standby, with the primary's credentials (the copy has its roles).</summary>
    public string ConnectionString(string database)
    {
        var primary = new NpgsqlConnectionStringBuilder(_primary);
        return new NpgsqlConnectionStringBuilder
        {
            Host = "127.0.0.1",
            Port = Port,
            Database = database,
            Username = primary.Username,
            Password = primary.Password,
        }.ConnectionString;
    }

    /// <summary>Starts it (again), and waits until it accepts read-only connections.</summary>
    public async Task StartAsync()
    {
        var (exitCode, output) = await Run("pg_ctl", ["-D", _directory, "-l", $"{_directory}/server.log", "-w", "-t", "60",
            "-o", $"{_serverOptions} -k {_directory}", "start"]);
        Assert.True(exitCode == 0, $"the standby did not start: {output}\n{ServerLog()}");
        IsRunning = true;
    }

    /// <summary>Stops it as an operator would (a fast shutdown): its clients are cut off, its copy stays.</summary>
    public async Task StopAsync()
    {
        var (exitCode, output) = await Run("pg_ctl", ["-D", _directory, "-m", "fast", "-w", "stop"]);
        Assert.True(exitCode == 0, $"the standby did not stop: {output}");
        IsRunning = false;
    }

    /// <summary>Holds replay (WAL still arrives, nothing new becomes visible) until <see cref="ResumeReplayAsync"/>.</summary>
    public async Task PauseReplayAsync()
    {
        await using var connection = await OpenAsync();
        await connection.ExecuteAsync("SELECT pg_wal_replay_pause()");
        await Eventually.TrueAsync(
            async () => await connection.ExecuteScalarAsync<string>("SELECT pg_get_wal_replay_pause_state()") == "paused",
            TimeSpan.FromSeconds(10), "replay paused");
    }

    public async Task ResumeReplayAsync()
    {
        await using var connection = await OpenAsync();
        await connection.ExecuteAsync("SELECT pg_wal_replay_resume()");
    }

    /// <summary>Waits until the standby has replayed everything the primary has written so far.</summary>
    public async Task WaitUntilCaughtUpAsync(TimeSpan? timeout = null)
    {
        await using var primary = new NpgsqlConnection(_primary);
        await primary.OpenAsync();
        var written = await primary.ExecuteScalarAsync<string>("SELECT pg_current_wal_insert_lsn()::text");
        await using var connection = await OpenAsync();
        try
        {
            await Eventually.TrueAsync(
                () => connection.ExecuteScalarAsync<bool>("SELECT pg_last_wal_replay_lsn() >= @written::pg_lsn", new { written }),
                timeout ?? TimeSpan.FromSeconds(30), $"the standby replays up to {written}");
        }
        catch (Xunit.Sdk.XunitException)
        {
            // replay waits for the standby's own queries that hold what it must change (max_standby_streaming_delay)
            var sessions = await connection.QueryAsync<string>("""
                SELECT concat_ws(' | ', pid, backend_type, state, wait_event_type, wait_event, xact_start, left(query, 120)) FROM pg_stat_activity
                """);
            Assert.Fail($"the standby did not replay up to {written}; its sessions:\n{string.Join('\n', sessions)}");
        }
    }

    /// <summary>Waits until the WAL the primary wrote so far has arrived, though replay is paused. (Testcontainers'
    /// primary commits asynchronously: its WAL is sent once the WAL writer flushes it, within 200 ms.)</summary>
    public async Task WaitUntilReceivedAsync(TimeSpan? timeout = null)
    {
        await using var primary = new NpgsqlConnection(_primary);
        await primary.OpenAsync();
        var written = await primary.ExecuteScalarAsync<string>("SELECT pg_current_wal_insert_lsn()::text");
        await using var connection = await OpenAsync();
        await Eventually.TrueAsync(
            () => connection.ExecuteScalarAsync<bool>("SELECT pg_last_wal_receive_lsn() >= @written::pg_lsn", new { written }),
            timeout ?? TimeSpan.FromSeconds(30), $"the standby receives up to {written}");
    }

    async Task<NpgsqlConnection> OpenAsync()
    {
        var connection = new NpgsqlConnection(ConnectionString("postgres") + ";Pooling=false");
        await connection.OpenAsync();
        return connection;
    }

    public string ServerLog()
    {
        try
        {
            return File.ReadAllText($"{_directory}/server.log");
        }
        catch (IOException ex)
        {
            return ex.Message;
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (IsRunning)
        {
            await Run("pg_ctl", ["-D", _directory, "-m", "immediate", "-w", "stop"]);
        }

        // the slot would keep the primary's WAL for a standby that is gone
        try
        {
            await using var primary = new NpgsqlConnection(_primary);
            await primary.OpenAsync();
            await primary.ExecuteAsync("SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = @slot", new { slot = _slot });
        }
        catch (NpgsqlException)
        {
            // the primary is gone already (its fixture disposed first): so is the slot
        }

        if (Directory.Exists(_directory))
        {
            Directory.Delete(_directory, recursive: true);
        }
    }

    Task<(int ExitCode, string Output)> Run(string program, string[] arguments) =>
        ExternalTool.RunAsync(Path.Combine(_bin, program), arguments, ToolTimeout, userName: _user);

    /// <summary>PG_BINDIR, else Debian's /usr/lib/postgresql/{major}/bin.</summary>
    static string BinDirectory(int major)
    {
        var bin = Environment.GetEnvironmentVariable("PG_BINDIR") is { Length: > 0 } given ? given : $"/usr/lib/postgresql/{major}/bin";
        Assert.True(File.Exists(Path.Combine(bin, "pg_basebackup")) && File.Exists(Path.Combine(bin, "postgres")),
            $"A standby needs PostgreSQL {major}'s server binaries in {bin} (apt-get install postgresql-{major}, or set PG_BINDIR); tests/run.sh installs them.");
        return bin;
    }

    public override string ToString() => string.Create(CultureInfo.InvariantCulture, $"standby on 127.0.0.1:{Port}");
}
