using Npgsql;
using Subscriptions.Api.Hosting;

namespace Subscriptions.Api.Outbox;

/// <summary>
/// One worker of a transport: claims a batch of due rows (FOR UPDATE SKIP LOCKED, with a lease
/// and a claim id) and delivers them — one mail at a time over SMTP, several webhooks at once —
/// recording each outcome as it happens (<see cref="BatchRun"/>). The claim is fenced by its
/// lease: renewed while the worker works on the batch, and no delivery outlives it, so a row
/// another worker took over is never delivered twice. A failure of the transport itself hands
/// the rest of the batch back at once, untried.
/// </summary>
public sealed partial class OutboxWorker<TRow>(
    IOutboxTransport<TRow> transport,
    OutboxRecorder recorder,
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
        await using var transaction = await OutboxSql.BeginPlannedForNowAsync(connection, cancellationToken);
        var now = clock.GetUtcNow();
        var nextDue = await OutboxSql.NextDueAsync(connection, transport.Lane, now, cancellationToken);
        await transaction.CommitAsync(cancellationToken);
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
        await using (var transaction = await OutboxSql.BeginPlannedForNowAsync(connection, stoppingToken))
        {
            batch = await transport.ClaimAsync(connection, claim, claimedAt, claimedAt + options.Lease, options.BatchSize, stoppingToken);
            await transaction.CommitAsync(stoppingToken);
        }

        if (batch.Count == 0)
        {
            return new(0, false);
        }

        if (batch.Count == options.BatchSize)
        {
            signal.Raise(transport.Lane); // there may be more: a sleeping worker can take the next batch meanwhile
        }

        var run = new BatchRun(this, claim, claimedAt + options.Lease, batch);
        await run.DeliverAsync(sender, stoppingToken);
        return new(batch.Count, run.TransportFailed);
    }

    /// <summary>
    /// One claimed batch on its way out. Deliveries start one by one, each when a permit is free:
    /// the transport's <see cref="IOutboxTransport{TRow}.Concurrency"/> permits, each given back
    /// only once its delivery's outcome is written (by the lane's <see cref="OutboxRecorder"/>).
    /// So no more deliveries than that are ever made and not yet recorded — all a crash can
    /// repeat: one mail per SMTP connection. The claim's lease is renewed when half of it has
    /// passed (a row the claim lost meanwhile is skipped), and each delivery is cut off at the
    /// lease's end.
    /// </summary>
    sealed class BatchRun(OutboxWorker<TRow> worker, Guid claim, DateTimeOffset leaseUntil, List<TRow> batch)
    {
        readonly SemaphoreSlim _permits = new(worker.Concurrency);
        readonly HashSet<long> _untried = [.. batch.Select(r => r.OutboxId)];
        volatile bool _transportFailed;
        volatile bool _recordFailed;

        public bool TransportFailed => _transportFailed;

        OutboxOptions Options => worker.Options;

        public async Task DeliverAsync(IOutboxSender<TRow> sender, CancellationToken stoppingToken)
        {
            List<Task> deliveries = [];
            try
            {
                // inside the try: a batch whose preparation fails (the database gone) is handed back, not held for the lease
                await sender.PrepareAsync(batch, stoppingToken);
                foreach (var row in batch)
                {
                    await _permits.WaitAsync(CancellationToken.None); // comes back as soon as an outcome is written
                    if (stoppingToken.IsCancellationRequested || _transportFailed || _recordFailed)
                    {
                        break;
                    }

                    if (!await HoldsAsync(row))
                    {
                        _permits.Release(); // taken over by another worker after our lease ran out: theirs now
                        continue;
                    }

                    _untried.Remove(row.OutboxId);
                    deliveries.Add(DeliverAsync(sender, row, leaseUntil, stoppingToken));
                }
            }
            finally
            {
                try
                {
                    await Task.WhenAll(deliveries);
                }
                finally
                {
                    await worker.WriteWhileDatabaseAwayAsync(connection => OutboxSql.ReleaseAsync(connection, claim, [.. _untried]));
                }
            }
        }

        /// <summary>Whether the claim still holds the row, renewing the lease of the rows it holds when half of it has passed.</summary>
        async Task<bool> HoldsAsync(TRow row)
        {
            var now = worker.Clock.GetUtcNow();
            if (leaseUntil - now < Options.Lease / 2)
            {
                await using var connection = await worker.DataSource.OpenConnectionAsync(CancellationToken.None);
                var held = await OutboxSql.RenewAsync(connection, claim, [.. batch.Select(r => r.OutboxId)], now + Options.Lease);
                leaseUntil = now + Options.Lease;
                _untried.IntersectWith(held);
            }

            return _untried.Contains(row.OutboxId);
        }

        async Task DeliverAsync(IOutboxSender<TRow> sender, TRow row, DateTimeOffset deliverBy, CancellationToken stoppingToken)
        {
            var attempt = row.Attempts + 1;
            Delivery delivery;
            using (var span = DeliverySpan.Start(worker.Lane, row, attempt))
            {
                delivery = await worker.DeliverWithinLeaseAsync(sender, row, attempt, deliverBy, stoppingToken);
                DeliverySpan.End(span, delivery);
            }

            worker.Count(delivery, attempt);
            if (delivery.GiveUpBatch && delivery.Error is not null)
            {
                _transportFailed = true;
            }

            var now = worker.Clock.GetUtcNow();
            try
            {
                await worker.Recorder.RecordAsync(claim, new(row.OutboxId, delivery, delivery.Error is null ? now : now + Backoff.After(attempt, Options)));
                _permits.Release();
            }
            catch
            {
                _recordFailed = true; // nothing more starts; the deliveries under way finish
                _permits.Release(worker.Concurrency);
                throw;
            }
        }
    }

    OutboxOptions Options => options;

    TimeProvider Clock => clock;

    NpgsqlDataSource DataSource => dataSource;

    OutboxRecorder Recorder => recorder;

    int Concurrency => transport.Concurrency;

    OutboxLane Lane => transport.Lane;

    Task WriteWhileDatabaseAwayAsync(Func<NpgsqlConnection, Task> write) =>
        OutboxRecorder.WriteWhileDatabaseAwayAsync(dataSource, clock, options.Lease, write);

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
