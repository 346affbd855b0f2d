using System.Runtime.ExceptionServices;
using Dapper;
using DbUp;
using DbUp.Postgresql;
using Npgsql;

namespace Subscriptions.Api.Data;

/// <summary>
/// Applies the numbered scripts of /migrations (embedded in this assembly) with DbUp. Instances
/// that start together are serialized by an advisory lock: the first migrates, the others wait
/// and then find nothing left to do. The lock is a transaction's (pg_advisory_xact_lock), held by
/// a transaction left open on a connection of its own while DbUp works on others, because a
/// session's lock does not survive PgBouncer in transaction mode: there the lock and the unlock
/// may run on different server connections, and a lock no one can release leaves the next
/// instance waiting forever. An open transaction keeps its server connection; the lock goes with
/// it at commit, or when the process dies.
/// </summary>
public sealed class DatabaseMigrator(NpgsqlDataSource dataSource, ILogger<DatabaseMigrator> logger)
{
    // Any constant works as long as every instance uses the same one.
    const long MigrationLockKey = 0x5355_4253_4D49_4752; // "SUBSMIGR"

    public async Task MigrateAsync(CancellationToken cancellationToken)
    {
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        await using var holdsLock = await connection.BeginTransactionAsync(cancellationToken);
        // the transaction stays idle while DbUp works on its own connections: a server's
        // idle_in_transaction_session_timeout must not end it (and fail the start) before they are done
        await connection.ExecuteAsync(new CommandDefinition(
            "SET LOCAL idle_in_transaction_session_timeout = 0; SELECT pg_advisory_xact_lock(@MigrationLockKey)",
            new { MigrationLockKey }, holdsLock, cancellationToken: cancellationToken));

        var upgrader = DeployChanges.To
            .PostgresqlDatabase(new PostgresqlConnectionManager(dataSource))
            .WithScriptsEmbeddedInAssembly(typeof(DatabaseMigrator).Assembly,
                name => name.Contains(".migrations.", StringComparison.Ordinal))
            .WithTransactionPerScript()
            .LogTo(logger)
            .Build();

        var result = upgrader.PerformUpgrade();
        if (result.Error is NpgsqlException unreachable && IsConnectionFailure(unreachable))
        {
            // a connection of DbUp's own could not be opened, or was lost: the script under way rolled
            // back, and the start waits and tries again, as when the lock's connection could not open
            ExceptionDispatchInfo.Throw(unreachable);
        }

        if (!result.Successful)
        {
            throw new MigrationFailedException($"Migration {result.ErrorScript?.Name} failed.", result.Error);
        }

        await holdsLock.CommitAsync(cancellationToken);
    }

    /// <summary>
    /// No connection, or none any more (Npgsql's transient errors without a server's answer, and the
    /// server's own "connection" and "shutting down" ones) — not what a script's statement met: a
    /// deadlock or a lock timeout, which Npgsql also calls transient, is that script's failure.
    /// </summary>
    static bool IsConnectionFailure(NpgsqlException ex) => ex is PostgresException postgres
        ? postgres.SqlState.StartsWith("08", StringComparison.Ordinal) || postgres.SqlState is "57P01" or "57P02" or "57P03"
        : ex.IsTransient;
}

/// <summary>A migration script failed (DbUp has logged it in full): the service cannot start.</summary>
public sealed class MigrationFailedException(string message, Exception? inner) : Exception(message, inner);
