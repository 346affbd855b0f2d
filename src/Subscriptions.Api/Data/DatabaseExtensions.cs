using System.Data.Common;
using Microsoft.Extensions.Options;
using Npgsql;

namespace Subscriptions.Api.Data;

public sealed class DatabaseOptions
{
    public string? ConnectionString { get; set; }
}

public static class DatabaseExtensions
{
    public const string ConnectionStringName = "Subscriptions";

    /// <summary>Room for every statement the service runs, prepared on each pooled connection.</summary>
    const int DefaultMaxAutoPrepare = 64;

    public static WebApplicationBuilder AddDatabase(this WebApplicationBuilder builder)
    {
        builder.Services.AddOptions<DatabaseOptions>()
            .Configure<IConfiguration>((o, configuration) => o.ConnectionString = configuration.GetConnectionString(ConnectionStringName))
            .Validate(o => !string.IsNullOrWhiteSpace(o.ConnectionString),
                $"ConnectionStrings__{ConnectionStringName} is not set: give it an Npgsql connection string.")
            .Validate(o => string.IsNullOrWhiteSpace(o.ConnectionString) || IsWellFormed(o.ConnectionString),
                $"ConnectionStrings__{ConnectionStringName} is not a valid Npgsql connection string.")
            .ValidateOnStart();

        // The connection string is read when the data source is first used, after validation,
        // so a missing one surfaces as the message above rather than as an exception from Npgsql.
        builder.Services.AddNpgsqlDataSource(string.Empty, (services, dataSource) =>
        {
            var connectionString = services.GetRequiredService<IOptions<DatabaseOptions>>().Value.ConnectionString;
            dataSource.ConnectionStringBuilder.ConnectionString = connectionString;

            // Defaults for a service's hot paths; a connection string that sets either decides.
            var given = new DbConnectionStringBuilder { ConnectionString = connectionString };

            // Statements run thousands of times: prepared once per connection, PostgreSQL plans
            // them once (planning was two thirds of a signup's database time). 0 turns it off.
            if (!given.ContainsKey("Max Auto Prepare"))
            {
                dataSource.ConnectionStringBuilder.MaxAutoPrepare = DefaultMaxAutoPrepare;
            }

            // The service leaves no session state behind (no SET, temporary tables, session
            // locks held or LISTEN), so a pooled connection needs no reset; with prepared
            // statements the reset is seven statements before every request's own (signups:
            // 3,180 req/s with it, 4,010 without).
            if (!given.ContainsKey("No Reset On Close"))
            {
                dataSource.ConnectionStringBuilder.NoResetOnClose = true;
            }

            // Traced (when OTEL_EXPORTER_OTLP_ENDPOINT is set): the statements of a request or a
            // delivery, not the outbox's polls and outcome writes, which belong to no trace.
            dataSource.ConfigureTracing(tracing => tracing
                .ConfigureCommandFilter(_ => System.Diagnostics.Activity.Current is not null)
                .ConfigureBatchFilter(_ => System.Diagnostics.Activity.Current is not null)
                .EnablePhysicalOpenTracing(false)); // pool growth, mostly outside any trace: a root span each
        });
        // The long reads (export, stats) from a hot standby when one is configured (its lag: Hosting/ReplicaLag).
        builder.Services.AddOptions<ReadOnlyDatabaseOptions>()
            .Configure<IConfiguration>((o, configuration) => o.ConnectionString = configuration.GetConnectionString(ReadOnlyDatabase.ConnectionStringName))
            .Validate(o => string.IsNullOrWhiteSpace(o.ConnectionString) || IsWellFormed(o.ConnectionString),
                $"ConnectionStrings__{ReadOnlyDatabase.ConnectionStringName} is not a valid Npgsql connection string.")
            .ValidateOnStart();
        builder.Services.AddSingleton<ReadOnlyDatabase>();

        builder.Services.AddSingleton<DatabaseMigrator>();
        builder.Services.AddSingleton<ServiceKeys>();

        builder.Services.AddOptions<RetentionOptions>()
            .BindConfiguration(RetentionOptions.Section)
            .Validate(o => o.PendingDays > 0 && o.MailDays >= 2 && o.Interval > TimeSpan.Zero,
                "Retention__PendingDays must be at least 1, Retention__MailDays at least 2 (the resend throttle reads a day of mail), Retention__Interval positive.")
            .ValidateOnStart();
        builder.Services.AddSingleton<RetentionJob>();
        builder.Services.AddHostedService(services => services.GetRequiredService<RetentionJob>());
        return builder;
    }

    /// <summary>How long a start waits for a PostgreSQL it cannot reach (starting, restarting, its network not up yet).</summary>
    static readonly TimeSpan StartPatience = TimeSpan.FromSeconds(60);

    /// <summary>
    /// Migrates, waiting for a PostgreSQL that cannot be reached yet (a Warning every attempt, for up to
    /// a minute). What waiting cannot mend — a wrong password, a missing database, a failed script —
    /// ends the start at once. Either way a failed start says why in one line on standard error, as a bad
    /// configuration does, and the answer is false.
    /// </summary>
    public static async Task<bool> MigrateDatabaseAsync(this WebApplication app)
    {
        var migrator = app.Services.GetRequiredService<DatabaseMigrator>();
        var logger = app.Services.GetRequiredService<ILogger<DatabaseMigrator>>();
        var waited = System.Diagnostics.Stopwatch.StartNew();
        while (true)
        {
            try
            {
                await migrator.MigrateAsync(app.Lifetime.ApplicationStopping);
                return true;
            }
            catch (NpgsqlException ex) when (ex.IsTransient && waited.Elapsed < StartPatience)
            {
                logger.LogWarning("PostgreSQL cannot be reached yet ({Reason}); trying again in 2 s", OneLine(ex));
            }
            catch (Exception ex) when (ex is NpgsqlException or MigrationFailedException)
            {
                var waitedFor = ex is NpgsqlException { IsTransient: true } ? $"not reachable for {waited.Elapsed.TotalSeconds:0} s: " : "";
                Console.Error.WriteLine($"Database error: {waitedFor}{OneLine(ex)}");
                return false;
            }

            // (before the host runs, a stop signal ends the process itself: nothing to cancel here)
            await Task.Delay(TimeSpan.FromSeconds(2));
        }
    }

    static string OneLine(Exception ex) =>
        string.Join(": ", new[] { ex.Message, ex.InnerException?.Message }.OfType<string>().Distinct()).ReplaceLineEndings(" ");

    static bool IsWellFormed(string connectionString)
    {
        try
        {
            _ = new NpgsqlConnectionStringBuilder(connectionString);
            return true;
        }
        catch (ArgumentException)
        {
            return false;
        }
    }
}
