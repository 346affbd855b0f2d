using Dapper;
using DbUp;
using DbUp.Postgresql;
using Npgsql;

namespace Subscriptions.Api.Data;

/// <summary>
/// Applies the numbered scripts of /migrations (embedded in this assembly) with DbUp. A
/// session-level advisory lock serializes instances that start together: the first migrates,
/// the others wait and then find nothing left to do.
/// </summary>
public sealed class DatabaseMigrator(NpgsqlDataSource dataSource, ILogger<DatabaseMigrator> logger)
{
    // Any constant works as long as every instance uses the same one.
    const long MigrationLockKey = 0x5355_4253_4D49_4752; // "SUBSMIGR"

    public async Task MigrateAsync(CancellationToken cancellationToken)
    {
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        await connection.ExecuteAsync(new CommandDefinition(
            "SELECT pg_advisory_lock(@MigrationLockKey)", new { MigrationLockKey }, cancellationToken: cancellationToken));
        try
        {
            var upgrader = DeployChanges.To
                .PostgresqlDatabase(new PostgresqlConnectionManager(dataSource))
                .WithScriptsEmbeddedInAssembly(typeof(DatabaseMigrator).Assembly,
                    name => name.Contains(".migrations.", StringComparison.Ordinal))
                .WithTransactionPerScript()
                .LogTo(logger)
                .Build();

            var result = upgrader.PerformUpgrade();
            if (!result.Successful)
            {
                throw new InvalidOperationException($"Migration {result.ErrorScript?.Name} failed.", result.Error);
            }
        }
        finally
        {
            await connection.ExecuteAsync("SELECT pg_advisory_unlock(@MigrationLockKey)", new { MigrationLockKey });
        }
    }
}
