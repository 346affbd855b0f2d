using System.Diagnostics.Metrics;
using Npgsql;
using Subscriptions.Api.Data;

namespace Subscriptions.Api.Hosting;

/// <summary>
/// Watches the read-only database (when one is configured) every <see cref="Interval"/> and
/// shows it in /metrics: subscriptions_replica_lag_seconds, subscriptions_replica_replayed_at_seconds
/// and subscriptions_replica_streaming. A gauge is read when /metrics is scraped, which must not
/// wait for a database, so the values are the last check's. Without a replica it does nothing
/// and the series do not exist.
/// </summary>
public sealed partial class ReplicaLag(ReadOnlyDatabase reads, IMeterFactory meters, TimeProvider clock, ILogger<ReplicaLag> logger)
    : BackgroundService
{
    /// <summary>One tiny query on the standby; a Prometheus scrape is usually 15 s apart.</summary>
    public static readonly TimeSpan Interval = TimeSpan.FromSeconds(2);

    ReplicaState? _last;
    bool _reachable;

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        if (!reads.IsReplica)
        {
            return;
        }

        var meter = meters.Create(SubscriptionsMetrics.MeterName);
        meter.CreateObservableGauge("subscriptions.replica.lag", ObserveLag, "s",
            "How far the read-only database (export, stats) is behind the primary, as of its last check: 0 when it streams and has replayed all it received, else seconds since its last replayed transaction.");
        meter.CreateObservableGauge("subscriptions.replica.replayed_at", ObserveReplayedAt, "s",
            "Commit time (Unix seconds) of the last transaction the read-only database replayed; stands still while the primary is idle.");
        meter.CreateObservableGauge("subscriptions.replica.streaming", () => Volatile.Read(ref _reachable) && _last is { Streaming: true } ? 1 : 0, "{replica}",
            "1 when the last check reached the read-only database and its WAL receiver streams from the primary, else 0 (the lag then has no value).");

        using var timer = new PeriodicTimer(Interval, clock);
        do
        {
            await CheckAsync(stoppingToken);
        }
        while (await timer.WaitForNextTickAsync(stoppingToken));
    }

    async Task CheckAsync(CancellationToken cancellationToken)
    {
        try
        {
            await using var connection = await reads.DataSource.OpenConnectionAsync(cancellationToken);
            _last = await ReplicaState.ReadAsync(connection, cancellationToken);
            if (!Volatile.Read(ref _reachable))
            {
                LogReachable();
            }

            Volatile.Write(ref _reachable, true);
        }
        catch (Exception ex) when (ex is NpgsqlException && !cancellationToken.IsCancellationRequested)
        {
            // an outage of the standby is a Warning once, not every two seconds
            if (Volatile.Read(ref _reachable) || _last is null)
            {
                LogUnreachable(ex);
            }

            // a standby that cannot be asked lags by an unknown amount: the lag series pauses, streaming says 0
            Volatile.Write(ref _reachable, false);
            _last = (_last ?? new ReplicaState(true, null, false, false, null)) with { Streaming = false, CaughtUp = false, LagSeconds = null };
        }
    }

    IEnumerable<Measurement<double>> ObserveLag() =>
        _last?.LagSeconds is { } lag ? [new Measurement<double>(lag)] : [];

    IEnumerable<Measurement<double>> ObserveReplayedAt() =>
        _last?.ReplayedAt is { } at ? [new Measurement<double>((DateTime.SpecifyKind(at, DateTimeKind.Utc) - DateTime.UnixEpoch).TotalSeconds)] : [];

    [LoggerMessage(Level = LogLevel.Information, Message = "The read-only database (ConnectionStrings__SubscriptionsReadOnly) answers.")]
    partial void LogReachable();

    [LoggerMessage(Level = LogLevel.Warning, Message = "The read-only database (ConnectionStrings__SubscriptionsReadOnly) cannot be reached: export and stats answer 503 until it is back.")]
    partial void LogUnreachable(Exception exception);
}
