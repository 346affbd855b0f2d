using Microsoft.Extensions.DependencyInjection;
using Npgsql;
using Subscriptions.Api.Signup;

namespace Subscriptions.Api.Tests.Infrastructure;

/// <summary>
/// A primary, a hot standby streaming from it, and the service reading export and stats from the
/// standby (ConnectionStrings__SubscriptionsReadOnly): a class fixture in the "Api" collection, whose
/// tests run one after another, because every service in the test process adds to every other's
/// /metrics (OpenTelemetry listens to each meter of the name) and the metrics tests count exactly.
/// No SMTP server: mails wait in the outbox, which the stats read from the primary.
/// </summary>
public sealed class ReplicaFixture : IAsyncLifetime
{
    public PostgresServer Primary { get; } = new();

    public StandbyServer Standby { get; private set; } = null!;

    public SubscriptionsApp App { get; private set; } = null!;

    /// <summary>The primary's test database.</summary>
    public NpgsqlDataSource Database { get; private set; } = null!;

    public string ConnectionString { get; private set; } = null!;

    public string ReadOnlyConnectionString { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        await Primary.StartAsync();
        await Primary.AllowReplicationAsync();
        ConnectionString = await Primary.CreateDatabaseAsync();
        Database = NpgsqlDataSource.Create(ConnectionString);
        Standby = await StandbyServer.StartAsync(Primary);
        ReadOnlyConnectionString = Standby.ConnectionString(new NpgsqlConnectionStringBuilder(ConnectionString).Database!);
        App = new SubscriptionsApp(ConnectionString, Settings(("ConnectionStrings:SubscriptionsReadOnly", ReadOnlyConnectionString)));
    }

    public static Dictionary<string, string?> Settings(params (string Key, string? Value)[] settings)
    {
        var all = new Dictionary<string, string?>
        {
            ["Admin:ApiKey"] = ApiFixture.AdminKey,
            ["Admin:FailedAttemptsPerMinute"] = "100000",
            ["RateLimits:Signup:Burst"] = "100000",
            ["RateLimits:Links:Burst"] = "100000",
        };
        foreach (var (key, value) in settings)
        {
            all[key] = value;
        }

        return all;
    }

    /// <summary>The standby running and replaying, the database emptied, and the standby caught up with that.</summary>
    public async Task ResetAsync()
    {
        if (!Standby.IsRunning)
        {
            await Standby.StartAsync();
        }

        await Standby.ResumeReplayAsync();
        await ApiFixture.EmptyAsync(Database);
        App.Services.GetRequiredService<SignupLists>().Invalidate();
        await Standby.WaitUntilCaughtUpAsync();
    }

    public async Task DisposeAsync()
    {
        await App.DisposeAsync();
        await Database.DisposeAsync();
        await Standby.DisposeAsync();
        await Primary.DisposeAsync();
    }
}
