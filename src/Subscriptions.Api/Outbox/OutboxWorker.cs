using Microsoft.Extensions.Options;
using Npgsql;
using Subscriptions.Api.Hosting;

namespace Subscriptions.Api.Outbox;

/// <summary>
/// One worker of a transport: claims a batch of due rows (FOR UPDATE SKIP LOCKED, with a lease
/// and a claim id), delivers them in groups of the transport's concurrency (one mail at a time
/// over SMTP, several webhooks at once), and records each group's outcomes as they happen — in
/// the same round trip that starts the next group, so a crash re-sends at most the group in
/// flight. Before each group the claim is checked and its rows' leases renewed; the batch's
/// lease is renewed when half of it has passed. A row the claim lost (another worker took it
/// over after the lease ran out) is skipped, never delivered twice. A failure of the transport
/// itself hands the rest of the batch back at once, untried.
/// </summary>
public sealed partial class OutboxWorker<TRow>(
    IOutboxTransport<TRow> transport,
    NpgsqlDataSource dataSource,
    OutboxSignal signal,
    OutboxOptions options,
    SubscriptionsMetrics metrics,
    TimeProvider clock,
    ILogger logger) where TRow : IClaimedRow
{
    public async Task RunAsync(CancellationToken stoppingToken)
    {
        await using var sender = transport.CreateSender();
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                var batch = await DispatchBatchAsync(sender, stoppingToken);
                if (batch.Claimed < options.BatchSize)
                {
                    await signal.WaitAsync(transport.Lane, batch.TransportFailed ? options.RetryBaseDelay : await NextWakeAsync(stoppingToken), stoppingToken);
                }
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                break;
            }
            catch (NpgsqlException ex)
            {
                LogDatabaseUnavailable(ex, transport.Lane);
                await PauseAsync(stoppingToken);
            }
            catch (Exception ex) when (ex is not OperationCanceledException)
            {
                // A bug must not stop the host (a BackgroundService's failure would): log it, carry on.
                LogUnexpected(ex, transport.Lane);
                await PauseAsync(stoppingToken);
            }
        }
    }

    static Task PauseAsync(CancellationToken stoppingToken) =>
        Task.Delay(TimeSpan.FromSeconds(5), stoppingToken).ContinueWith(_ => { }, CancellationToken.None);

    /// <summary>
    /// Sleep until the poll interval ends or the next row of this lane falls due, whichever is
    /// first. A cheap look (<see cref="OutboxSql.NextDueAsync"/>): idle workers of every instance
    /// make it, however long the queue.
    /// </summary>
    async Task<TimeSpan> NextWakeAsync(CancellationToken cancellationToken)
    {
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        var now = clock.GetUtcNow();
        var nextDue = await OutboxSql.NextDueAsync(connection, transport.Lane, now, cancellationToken);
        var untilDue = nextDue is { } due ? new DateTimeOffset(due, TimeSpan.Zero) - now : options.PollInterval;
        return TimeSpan.FromMilliseconds(Math.Clamp(untilDue.TotalMilliseconds, 10, options.PollInterval.TotalMilliseconds));
    }

    readonly record struct BatchResult(int Claimed, bool TransportFailed);

    async Task<BatchResult> DispatchBatchAsync(IOutboxSender<TRow> sender, CancellationToken stoppingToken)
    {
        var claim = Guid.NewGuid();
        var claimedAt = clock.GetUtcNow();
        List<TRow> batch;
        await using (var connection = await dataSource.OpenConnectionAsync(stoppingToken))
        {
            batch = await transport.ClaimAsync(connection, claim, claimedAt, claimedAt + options.Lease, options.BatchSize, stoppingToken);
        }

        if (batch.Count == 0)
        {
            return new(0, false);
        }

        if (batch.Count == options.BatchSize)
        {
            signal.Raise(transport.Lane); // there may be more: a sleeping worker can take the next batch meanwhile
        }

        var renewedAt = claimedAt;
        List<OutboxSql.Outcome> previous = [];
        var transportFailed = false;
        try
        {
            // inside the try: a batch whose preparation fails (the database gone) is handed back, not held for the lease
            await sender.PrepareAsync(batch, stoppingToken);
            foreach (var group in batch.Chunk(transport.Concurrency))
            {
                if (stoppingToken.IsCancellationRequested || transportFailed)
                {
                    break;
                }

                var now = clock.GetUtcNow();
                Dictionary<long, int> begun;
                await using (var connection = await dataSource.OpenConnectionAsync(CancellationToken.None))
                {
                    if (now - renewedAt > options.Lease / 2)
                    {
                        await OutboxSql.RenewAsync(connection, claim, [.. batch.Select(r => r.OutboxId)], now + options.Lease);
                        renewedAt = now;
                    }

                    begun = await OutboxSql.RecordAndBeginAsync(connection, claim, previous, [.. group.Select(r => r.OutboxId)], now, now + options.Lease);
                }

                // a row missing from begun was taken over by another worker after our lease ran out: theirs now
                previous = [.. await Task.WhenAll(group.Where(r => begun.ContainsKey(r.OutboxId)).Select(async row =>
                {
                    var attempt = begun[row.OutboxId];
                    var delivery = await DeliverWithinLeaseAsync(sender, row, attempt, now + options.Lease, stoppingToken);
                    Count(delivery, attempt);
                    return new OutboxSql.Outcome(row.OutboxId, delivery,
                        delivery.Error is null ? clock.GetUtcNow() : clock.GetUtcNow() + Backoff.After(attempt, options));
                }))];
                transportFailed = previous.Any(o => o.Delivery.GiveUpBatch && o.Delivery.Error is not null);
            }
        }
        finally
        {
            await FinishAsync(claim, previous, [.. batch.Select(r => r.OutboxId)]);
        }

        return new(batch.Count, transportFailed);
    }

    /// <summary>
    /// Records the last outcome and hands back every row not tried, due as it was. Written even
    /// while shutting down, and retried while the database is away (restarting, say) for as long
    /// as the claim's lease lasts: an unrecorded delivery would be made again by the next owner.
    /// </summary>
    async Task FinishAsync(Guid claim, IReadOnlyList<OutboxSql.Outcome> last, IReadOnlyList<long> batch)
    {
        var giveUpAt = clock.GetUtcNow() + options.Lease;
        while (true)
        {
            try
            {
                await using var connection = await dataSource.OpenConnectionAsync(CancellationToken.None);
                var recorded = last.Select(o => o.OutboxId).ToHashSet();
                await OutboxSql.RecordAndBeginAsync(connection, claim, last, [], clock.GetUtcNow(), clock.GetUtcNow(),
                    releaseIds: [.. batch.Where(id => !recorded.Contains(id))]);
                return;
            }
            catch (NpgsqlException) when (clock.GetUtcNow() < giveUpAt)
            {
                await Task.Delay(TimeSpan.FromSeconds(1), CancellationToken.None);
            }
        }
    }

    /// <summary>
    /// A delivery may not outlive the claim it started under: past the lease another worker may
    /// own the row, so the attempt is cut off there (and counts as a failure, retried later).
    /// </summary>
    async Task<Delivery> DeliverWithinLeaseAsync(IOutboxSender<TRow> sender, TRow row, int attempt, DateTimeOffset leaseUntil, CancellationToken stoppingToken)
    {
        using var withinLease = CancellationTokenSource.CreateLinkedTokenSource(stoppingToken);
        withinLease.CancelAfter(leaseUntil - clock.GetUtcNow() - TimeSpan.FromMilliseconds(100));
        try
        {
            return await sender.DeliverAsync(row, attempt, withinLease.Token);
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
            return Delivery.HandedBack; // shutting down mid-delivery: back to the queue, due at once
        }
        catch (OperationCanceledException)
        {
            return Delivery.Failed("the delivery did not finish within the claim's lease", attempt, options.MaxAttempts, giveUpBatch: true);
        }
    }

    void Count(Delivery delivery, int attempt)
    {
        if (delivery.Result == DeliveryResult.Sent)
        {
            metrics.Delivered(transport.Lane, "sent");
            return;
        }

        if (delivery.Error is not null)
        {
            metrics.Delivered(transport.Lane, delivery.Result == DeliveryResult.Dead ? "dead_lettered" : "failed");
            // the reason stays in outbox.last_error: server replies can quote the address
            LogNotDelivered(transport.Lane, attempt, delivery.Result == DeliveryResult.Dead ? "dead-lettered" : "will retry");
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "PostgreSQL is unavailable to the {Lane} outbox worker; retrying in 5 s.")]
    partial void LogDatabaseUnavailable(Exception exception, OutboxLane lane);

    [LoggerMessage(Level = LogLevel.Error, Message = "The {Lane} outbox worker failed unexpectedly; it carries on in 5 s.")]
    partial void LogUnexpected(Exception exception, OutboxLane lane);

    [LoggerMessage(Level = LogLevel.Warning, Message = "A {Lane} delivery failed on attempt {Attempts}; {Disposition}.")]
    partial void LogNotDelivered(OutboxLane lane, int attempts, string disposition);
}
