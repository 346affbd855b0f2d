using Microsoft.Extensions.Options;
using Npgsql;

namespace Subscriptions.Api.Data;

public sealed class ReadOnlyDatabaseOptions
{
    public string? ConnectionString { get; set; }
}

/// <summary>
/// Where the long reads go (export, stats): a hot standby when ConnectionStrings__SubscriptionsReadOnly
/// names one, else the primary's own data source. Only reads that can be a little behind belong
/// here; anything written, and anything read to decide a write, stays on the primary.
/// </summary>
public sealed class ReadOnlyDatabase : IAsyncDisposable
{
    public const string ConnectionStringName = "SubscriptionsReadOnly";

    readonly NpgsqlDataSource? _replica;

    public ReadOnlyDatabase(IOptions<ReadOnlyDatabaseOptions> options, NpgsqlDataSource primary, ILoggerFactory loggers)
    {
        if (string.IsNullOrWhiteSpace(options.Value.ConnectionString))
        {
            DataSource = primary;
            return;
        }

        // Named, so Npgsql's metrics (db.client.connection.*) tell its pool from the primary's.
        var builder = new NpgsqlDataSourceBuilder(options.Value.ConnectionString) { Name = "replica" };
        _replica = builder.UseLoggerFactory(loggers).Build();
        DataSource = _replica;
    }

    public NpgsqlDataSource DataSource { get; }

    public bool IsReplica => _replica is not null;

    /// <summary>
    /// A connection for one response's reads. On a replica the response first gets the replica's
    /// state (<see cref="ReplicaState"/>) as headers, read on this connection just before the
    /// caller's own statements: what they see includes everything the primary committed up to
    /// <c>Replica-Replayed-At</c>. A replica that cannot be reached throws as the primary would
    /// (NpgsqlException: 503 with Retry-After).
    /// </summary>
    public async Task<NpgsqlConnection> OpenAsync(HttpResponse response, CancellationToken cancellationToken)
    {
        var connection = await DataSource.OpenConnectionAsync(cancellationToken);
        if (!IsReplica)
        {
            return connection;
        }

        try
        {
            var state = await ReplicaState.ReadAsync(connection, cancellationToken);
            state.WriteHeaders(response.Headers);
            return connection;
        }
        catch
        {
            await connection.DisposeAsync();
            throw;
        }
    }

    public ValueTask DisposeAsync() => _replica?.DisposeAsync() ?? ValueTask.CompletedTask;
}
