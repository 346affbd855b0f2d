using System.Globalization;
using Dapper;
using Npgsql;

namespace Subscriptions.Api.Tests.Infrastructure;

/// <summary>
/// The production topology on loopback, as README's Operations, Topology describes it: a primary
/// (Testcontainers) with a streaming hot standby (<see cref="StandbyServer"/>), PgBouncer in
/// transaction mode in front of the primary, two instances of the built service as processes of
/// their own (the primary through PgBouncer with Max Auto Prepare=0, export and stats from the
/// standby, probes on a management port, HAProxy as their only trusted proxy), and HAProxy in front
/// of them with the edge's per-address rate limit. The instances start together, as a deployment
/// starts them: each migrates the database through PgBouncer under the migration lock.
/// The first instance's mail goes through a <see cref="RelayProxy"/> the tests can slow down, so
/// that it holds claimed mail when it is killed. Leases are short (4 s) and other instances' work
/// is looked for every 0.5 s, so that a takeover is seen within a test.
/// </summary>
public sealed class TopologyFixture : IAsyncLifetime
{
    /// <summary>Requests one client address may make in 10 s at the edge.</summary>
    public const int EdgeRequestsPer10Seconds = 50;

    public static readonly TimeSpan Lease = TimeSpan.FromSeconds(4);

    readonly RunningService?[] _instances = new RunningService?[2];
    readonly (int Port, int ManagementPort)[] _addresses =
        [(LocalNetworking.FreePort(), LocalNetworking.FreePort()), (LocalNetworking.FreePort(), LocalNetworking.FreePort())];

    public PostgresServer Primary { get; } = new();

    public MailServer Mail { get; } = new();

    public StandbyServer Standby { get; private set; } = null!;

    public PgBouncerServer Bouncer { get; private set; } = null!;

    /// <summary>Between the first instance and the SMTP server.</summary>
    public RelayProxy FirstInstanceRelay { get; private set; } = null!;

    public HaproxyServer Edge { get; private set; } = null!;

    /// <summary>The primary's test database, directly (not through PgBouncer): what the tests check.</summary>
    public NpgsqlDataSource Database { get; private set; } = null!;

    string _databaseName = null!;

    public async Task InitializeAsync()
    {
        await Task.WhenAll(Primary.StartAsync(), Mail.StartAsync());
        await Primary.AllowReplicationAsync();
        var connectionString = await Primary.CreateDatabaseAsync();
        _databaseName = new NpgsqlConnectionStringBuilder(connectionString).Database!;
        Database = NpgsqlDataSource.Create(connectionString);
        Standby = await StandbyServer.StartAsync(Primary);
        Bouncer = await PgBouncerServer.StartAsync(connectionString);
        FirstInstanceRelay = new RelayProxy(Mail.Port);
        await Task.WhenAll(StartAsync(0), StartAsync(1));
        Edge = await HaproxyServer.StartAsync(_addresses, EdgeRequestsPer10Seconds);
    }

    public RunningService Instance(int instance) => _instances[instance] ?? throw new InvalidOperationException($"instance {instance} is not running");

    /// <summary>What each instance wrote last (for a failing test's message), and what HAProxy and PgBouncer logged.</summary>
    public string Logs() => string.Join("\n\n",
        _instances.Select((s, i) => $"instance {i}:\n{s?.Output ?? "(not running)"}")
            .Append($"HAProxy:\n{Edge?.Output}").Append($"PgBouncer:\n{Bouncer?.Output}"));

    /// <summary>Every test starts here: both instances running and in HAProxy's rotation, the relay fast, the database and the mailbox empty, the standby replaying and caught up.</summary>
    public async Task ResetAsync()
    {
        FirstInstanceRelay.PerMessageDelay = TimeSpan.Zero;
        for (var i = 0; i < _instances.Length; i++)
        {
            if (_instances[i] is not { HasExited: false })
            {
                if (_instances[i] is { } exited)
                {
                    await exited.DisposeAsync();
                }

                await StartAsync(i);
            }

            if ((await Edge.ServerAsync(i)).Status is "MAINT" or "DRAIN")
            {
                await Edge.SetStateAsync(i, "ready");
            }

            await Edge.WaitForStatusAsync(i, "UP", TimeSpan.FromSeconds(20));
        }

        if (!Standby.IsRunning)
        {
            await Standby.StartAsync();
        }

        await Standby.ResumeReplayAsync();
        await ApiFixture.EmptyAsync(Database);
        await Mail.ClearAsync();
        await Standby.WaitUntilCaughtUpAsync();
    }

    /// <summary>kill -9: the instance ends at once, with whatever it had claimed.</summary>
    public async Task KillAsync(int instance)
    {
        await Instance(instance).DisposeAsync();
        _instances[instance] = null;
    }

    /// <summary>
    /// One step of a rolling restart, as an operator does it with HAProxy's runtime API: the instance
    /// is put in maintenance (no new requests), its requests in flight are let finish, it is stopped
    /// (SIGTERM: a graceful shutdown) and started again, and back in rotation once it is ready and
    /// HAProxy's own check agrees.
    /// </summary>
    public async Task RestartAsync(int instance)
    {
        await Edge.SetStateAsync(instance, "maint");
        await Eventually.TrueAsync(async () => (await Edge.ServerAsync(instance)).Current == 0, TimeSpan.FromSeconds(30),
            $"instance {instance}'s requests in flight are answered");
        var stopping = Instance(instance);
        await stopping.StopAsync();
        await stopping.DisposeAsync();
        _instances[instance] = null;
        await StartAsync(instance);
        await Edge.SetStateAsync(instance, "ready");
        await Edge.WaitForStatusAsync(instance, "UP", TimeSpan.FromSeconds(20));
    }

    async Task StartAsync(int instance)
    {
        try
        {
            _instances[instance] = await RunningService.StartAsync(Settings(instance), managementPort: true, port: _addresses[instance].Port);
        }
        catch (TimeoutException ex)
        {
            // what the primary's sessions (PgBouncer's server connections among them) were doing
            await using var connection = await Database.OpenConnectionAsync();
            var sessions = await connection.QueryAsync<string>("""
                SELECT concat_ws(' | ', pid, application_name, client_port, state, wait_event_type, wait_event, now() - xact_start, left(query, 100))
                FROM pg_stat_activity WHERE datname = current_database()
                """);
            throw new TimeoutException($"instance {instance}: {ex.Message}\nthe primary's sessions:\n{string.Join('\n', sessions)}\nPgBouncer:\n{Bouncer.Output}", ex);
        }
    }

    Dictionary<string, string?> Settings(int instance)
    {
        var managementPort = _addresses[instance].ManagementPort;
        return new Dictionary<string, string?>
        {
            ["ConnectionStrings:Subscriptions"] = Bouncer.ConnectionString(_databaseName),
            ["ConnectionStrings:SubscriptionsReadOnly"] = Standby.ConnectionString(_databaseName),
            ["Management:Urls"] = $"http://127.0.0.1:{managementPort}",
            // HAProxy connects from 127.0.0.1; the test's clients come from other loopback addresses
            ["Subscriptions:TrustedProxies:0"] = "127.0.0.1",
            ["Smtp:Host"] = "127.0.0.1",
            ["Smtp:Port"] = (instance == 0 ? FirstInstanceRelay.Port : Mail.Port).ToString(CultureInfo.InvariantCulture),
            ["Smtp:Security"] = "None",
            ["Smtp:Timeout"] = "00:00:02",
            ["Outbox:Lease"] = Lease.ToString("c", CultureInfo.InvariantCulture),
            ["Outbox:PollInterval"] = "00:00:00.500",
            ["Outbox:RetryBaseDelay"] = "00:00:00.200",
            ["Outbox:RetryMaxDelay"] = "00:00:01",
            ["Admin:ApiKey"] = ApiFixture.AdminKey,
            // thousands of requests a test: what went wrong, and the host's start and stop
            ["Logging:LogLevel:Default"] = "Warning",
            ["Logging:LogLevel:Microsoft.Hosting.Lifetime"] = "Information",
            // The service's own per-address limits stay at their defaults (10 signups at once, then 5 a
            // minute): they act on the address HAProxy forwards, and the tests' readers each have theirs.
        };
    }

    public async Task DisposeAsync()
    {
        foreach (var instance in _instances)
        {
            if (instance is not null)
            {
                await instance.DisposeAsync();
            }
        }

        if (Edge is not null)
        {
            await Edge.DisposeAsync();
        }

        if (FirstInstanceRelay is not null)
        {
            await FirstInstanceRelay.DisposeAsync();
        }

        if (Bouncer is not null)
        {
            await Bouncer.DisposeAsync();
        }

        if (Database is not null)
        {
            await Database.DisposeAsync();
        }

        if (Standby is not null)
        {
            await Standby.DisposeAsync();
        }

        await Primary.DisposeAsync();
        await Mail.DisposeAsync();
    }
}

/// <summary>
/// The topology's tests run alone, after the others: 2,000 signups through it at once would take
/// the two cores from every other collection's timing, and theirs from its.
/// </summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class TopologyCollection : ICollectionFixture<TopologyFixture>
{
    public const string Name = "Topology";
}
