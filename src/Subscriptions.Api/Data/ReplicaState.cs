using System.Globalization;
using Dapper;
using Npgsql;

namespace Subscriptions.Api.Data;

/// <summary>
/// How far behind the primary a hot standby's reads are, as the standby itself tells it.
/// pg_last_xact_replay_timestamp() is the commit time (on the primary) of the last transaction
/// replayed; on an idle primary it stands still while the standby is fully up to date, so it
/// alone is no lag. The standby is caught up when its WAL receiver is streaming and it has
/// replayed all the WAL it received: then the lag is 0; otherwise the time since that commit.
/// </summary>
/// <param name="Standby">The server is in recovery (a standby); a promoted or primary server lags nothing.</param>
/// <param name="ReplayedAt">Commit time of the last replayed transaction; null before the first one since the standby started.</param>
/// <param name="Streaming">A WAL receiver runs (pg_stat_wal_receiver has its row, which any role can see).</param>
/// <param name="CaughtUp">All WAL received is replayed, and a WAL receiver streams.</param>
/// <param name="LagSeconds">0 when caught up (or not a standby), else seconds since ReplayedAt; null when unknown.</param>
public sealed record ReplicaState(bool Standby, DateTime? ReplayedAt, bool Streaming, bool CaughtUp, double? LagSeconds)
{
    public const string ReplayedAtHeader = "Replica-Replayed-At";
    public const string LagHeader = "Replica-Lag";

    const string Sql = """
        SELECT pg_is_in_recovery() AS Standby,
               pg_last_xact_replay_timestamp() AS ReplayedAt,
               EXISTS (SELECT FROM pg_stat_wal_receiver) AS Streaming,
               EXISTS (SELECT FROM pg_stat_wal_receiver)
                   AND pg_last_wal_receive_lsn() IS NOT DISTINCT FROM pg_last_wal_replay_lsn() AS CaughtUp,
               extract(epoch FROM now() - pg_last_xact_replay_timestamp())::float8 AS SecondsSinceReplay
        """;

    public static async Task<ReplicaState> ReadAsync(NpgsqlConnection connection, CancellationToken cancellationToken)
    {
        var row = await connection.QuerySingleAsync<(bool Standby, DateTime? ReplayedAt, bool Streaming, bool CaughtUp, double? SecondsSinceReplay)>(
            new CommandDefinition(Sql, cancellationToken: cancellationToken));
        double? lag = !row.Standby || row.CaughtUp ? 0 : row.SecondsSinceReplay is { } seconds ? Math.Max(0, seconds) : null;
        return new ReplicaState(row.Standby, row.ReplayedAt, row.Streaming, row.CaughtUp, lag);
    }

    /// <summary>RFC 3339 UTC with microseconds (as the export's own timestamps), and the lag in seconds.</summary>
    public void WriteHeaders(IHeaderDictionary headers)
    {
        if (ReplayedAt is { } replayedAt)
        {
            headers[ReplayedAtHeader] = DateTime.SpecifyKind(replayedAt, DateTimeKind.Utc).ToString("yyyy-MM-ddTHH:mm:ss.ffffffZ", CultureInfo.InvariantCulture);
        }

        if (LagSeconds is { } lag)
        {
            headers[LagHeader] = lag.ToString("0.###", CultureInfo.InvariantCulture);
        }
    }
}
