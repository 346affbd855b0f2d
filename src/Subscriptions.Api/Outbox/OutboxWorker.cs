using System.Text.RegularExpressions;
using Npgsql;
using Subscriptions.Api.Hosting;

namespace Subscriptions.Api.Outbox;

/// <summary>
/// One worker of a transport: claims a batch of due rows (FOR UPDATE SKIP LOCKED, with a lease
/// and a claim id) and delivers them — one mail at a time over SMTP, several webhooks at once —
/// recording each outcome as it happens (<see cref="BatchRun"/>). The claim is fenced by its
/// lease: renewed while the worker works on the batch, and no delivery outlives it, so a row
/// another worker took over is never delivered twice. A failure of the transport itself hands
/// the rest of the batch back at once, untried, and the worker claims again only after the
/// transport's pause (<see cref="IOutboxTransport{TRow}.PauseAfterFailure"/>). When one round of
/// a batch's deliveries is left to start, the worker claims the next batch, whose deliveries take
/// their turns as those finish: no wait for a claim between batches, and the transport's
/// deliveries at once are the worker's, across its batches, never more.
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
    // a delivery holds a permit until its outcome is written (or it did not start)
    readonly SemaphoreSlim _permits = new(transport.Concurrency);
    // the last batch's deliveries still under way
    Task _finishing = Task.CompletedTask;
    // the transport failed: what the worker holds goes back, nothing more starts until its pause is over
    volatile bool _transportFailed;

    public async Task RunAsync(CancellationToken stoppingToken)
    {
        await using var sender = transport.CreateSender();
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                if (!await transport.InUseAsync(stoppingToken))
                {
                    await signal.WaitAsync(transport.Lane, options.PollInterval, stoppingToken);
                    continue;
                }

                var claimed = await DispatchBatchAsync(sender, stoppingToken);
                if (claimed < options.BatchSize || _transportFailed)
                {
                    await FinishAsync();
                    if (_transportFailed)
                    {
                        // what the batches held went back untried; no signup cuts this short (they keep coming while the relay is down)
                        _transportFailed = false;
                        await Task.Delay(transport.PauseAfterFailure, clock, stoppingToken);
                    }
                    else
                    {
                        await signal.WaitAsync(transport.Lane, await NextWakeAsync(stoppingToken), stoppingToken);
                    }
                }
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                break;
            }
            catch (Exception ex) when (ex is not OperationCanceledException)
            {
                Log(ex);
                await PauseAsync(stoppingToken);
            }
        }

        try
        {
            await FinishAsync();
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
            // stopped while the last batch was being prepared: it went back to the queue
        }
        catch (Exception ex)
        {
            Log(ex);
        }
    }

    Task FinishAsync()
    {
        var finishing = _finishing;
        _finishing = Task.CompletedTask;
        return finishing;
    }

    void Log(Exception exception)
    {
        if (exception is NpgsqlException)
        {
            LogDatabaseUnavailable(exception, transport.Lane);
        }
        else
        {
            // a bug must not stop the host (a BackgroundService's failure would): log it, carry on
            LogUnexpected(exception, transport.Lane);
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

    /// <summary>
    /// Claims a batch and starts its deliveries; returns how many rows it claimed once one round of
    /// them is left to start (the rest go on meanwhile) and the batch before has finished.
    /// </summary>
    async Task<int> DispatchBatchAsync(IOutboxSender<TRow> sender, CancellationToken stoppingToken)
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
            return 0;
        }

        if (batch.Count == options.BatchSize)
        {
            signal.Raise(transport.Lane); // there may be more: a sleeping worker can take the next batch meanwhile
        }

        var run = new BatchRun(this, claim, claimedAt + options.Lease, batch);
        var running = run.RunAsync(sender, stoppingToken);
        await run.TailReached;
        var before = FinishAsync();
        _finishing = running;
        await before; // long done, or soon: this batch's deliveries started as the permits came back
        return batch.Count;
    }

    /// <summary>
    /// One claimed batch on its way out. Deliveries start one by one, each when one of the worker's
    /// permits is free (<see cref="IOutboxTransport{TRow}.Concurrency"/> of them), given back only
    /// once the delivery's outcome is written (by the lane's <see cref="OutboxRecorder"/>). So no
    /// more deliveries than that are ever made and not yet recorded — all a crash can repeat: one
    /// mail per SMTP connection. While the batch is worked on, its claim is renewed every third of
    /// a lease (<see cref="KeepAsync"/>), for the rows not yet recorded: a delivery under way, or
    /// one whose outcome waits to be written, keeps its row however slow the relay or the
    /// database, so no other worker takes it over meanwhile. Only a worker that cannot renew (its
    /// database away) loses its rows, and then its deliveries are cut off before the lease it last
    /// renewed runs out, and none starts on a row it no longer holds.
    /// </summary>
    sealed class BatchRun(OutboxWorker<TRow> worker, Guid claim, DateTimeOffset leaseUntil, List<TRow> batch)
    {
        readonly long[] _ids = [.. batch.Select(r => r.OutboxId)];
        readonly HashSet<long> _untried = [.. batch.Select(r => r.OutboxId)];
        readonly List<Task> _deliveries = [];
        readonly Lock _lease = new();
        readonly SemaphoreSlim _renewing = new(1);
        // cancelled just before the lease last renewed runs out: the deliveries under way stop there
        readonly CancellationTokenSource _leaseEnding = new(Remaining(leaseUntil, worker.Clock), worker.Clock);
        readonly TaskCompletionSource _tailReached = new(TaskCreationOptions.RunContinuationsAsynchronously);
        // an outcome could not be written (the database away for a lease), or a delivery failed unexpectedly
        volatile bool _failed;

        OutboxOptions Options => worker.Options;

        SemaphoreSlim Permits => worker._permits;

        /// <summary>
        /// Done when at most one round of deliveries is left to start (the transport's concurrency),
        /// or none more will: the worker claims its next batch meanwhile, so that its deliveries
        /// follow these without waiting for a claim.
        /// </summary>
        public Task TailReached => _tailReached.Task;

        /// <summary>Starts the deliveries, each as a permit frees up, waits for them, and hands back what was not tried.</summary>
        public async Task RunAsync(IOutboxSender<TRow> sender, CancellationToken stoppingToken)
        {
            using var done = new CancellationTokenSource();
            var keeping = KeepAsync(done.Token);
            try
            {
                // inside the try: a batch whose preparation fails (the database gone) is handed back, not held for the lease
                await StartAsync(sender, stoppingToken);
            }
            finally
            {
                _tailReached.TrySetResult();
                try
                {
                    await Task.WhenAll(_deliveries);
                }
                finally
                {
                    await done.CancelAsync();
                    await keeping;
                    _leaseEnding.Dispose();
                    long[] untried;
                    lock (_lease)
                    {
                        untried = [.. _untried];
                    }

                    if (untried.Length > 0)
                    {
                        await worker.WriteWhileDatabaseAwayAsync(connection => OutboxSql.ReleaseAsync(connection, claim, untried));
                    }
                }
            }
        }

        async Task StartAsync(IOutboxSender<TRow> sender, CancellationToken stoppingToken)
        {
            var rows = await sender.PrepareAsync(batch, stoppingToken);
            for (var i = 0; i < rows.Count; i++)
            {
                if (rows.Count - i <= worker.Concurrency)
                {
                    _tailReached.TrySetResult();
                }

                await Permits.WaitAsync(CancellationToken.None); // comes back as soon as an outcome is written
                var started = false;
                try
                {
                    if (stoppingToken.IsCancellationRequested || worker._transportFailed || _failed || _leaseEnding.IsCancellationRequested)
                    {
                        break;
                    }

                    if (await HoldsAsync(rows[i])) // if not, taken over by another worker after our lease ran out: theirs now
                    {
                        _deliveries.Add(DeliverAsync(sender, rows[i], stoppingToken));
                        started = true;
                    }
                }
                finally
                {
                    if (!started)
                    {
                        Permits.Release();
                    }
                }
            }
        }

        /// <summary>
        /// Whether the claim still holds the row (then it counts as tried), renewing the claim first
        /// if less than half a lease is left (the renewals of <see cref="KeepAsync"/> came late).
        /// </summary>
        async Task<bool> HoldsAsync(TRow row)
        {
            bool renew;
            lock (_lease)
            {
                renew = leaseUntil - worker.Clock.GetUtcNow() < Options.Lease / 2;
            }

            if (renew)
            {
                await RenewAsync();
            }

            lock (_lease)
            {
                return _untried.Remove(row.OutboxId);
            }
        }

        /// <summary>Renews the claim every third of a lease until the batch is done; a failed renewal is tried again at the next.</summary>
        async Task KeepAsync(CancellationToken done)
        {
            while (true)
            {
                try
                {
                    await Task.Delay(Options.Lease / 3, worker.Clock, done);
                    await RenewAsync();
                }
                catch (OperationCanceledException) when (done.IsCancellationRequested)
                {
                    return;
                }
                catch (NpgsqlException)
                {
                    // the database away: the deliveries under way stop before the last renewed lease ends
                }
            }
        }

        /// <summary>
        /// Extends the lease of the batch's rows the claim still holds (rows already recorded no
        /// longer carry it). One renewal at a time: another at once would find the rows locked by
        /// the first and take them for lost.
        /// </summary>
        async Task RenewAsync()
        {
            await _renewing.WaitAsync();
            try
            {
                var now = worker.Clock.GetUtcNow();
                await using var connection = await worker.DataSource.OpenConnectionAsync(CancellationToken.None);
                var held = await OutboxSql.RenewAsync(connection, claim, _ids, now + Options.Lease);
                lock (_lease)
                {
                    leaseUntil = now + Options.Lease;
                    _untried.IntersectWith(held);
                    _leaseEnding.CancelAfter(Remaining(leaseUntil, worker.Clock));
                }
            }
            finally
            {
                _renewing.Release();
            }
        }

        /// <summary>Until just before the lease ends: past it another worker may own the row.</summary>
        static TimeSpan Remaining(DateTimeOffset leaseUntil, TimeProvider clock) =>
            TimeSpan.FromTicks(Math.Max(0, (leaseUntil - clock.GetUtcNow() - TimeSpan.FromMilliseconds(100)).Ticks));

        /// <summary>Delivers the row and records the outcome, then gives its permit back.</summary>
        async Task DeliverAsync(IOutboxSender<TRow> sender, TRow row, CancellationToken stoppingToken)
        {
            try
            {
                var attempt = row.Attempts + 1;
                Delivery delivery;
                using (var span = DeliverySpan.Start(worker.Lane, row, attempt))
                {
                    delivery = await worker.DeliverWithinLeaseAsync(sender, row, attempt, _leaseEnding.Token, stoppingToken);
                    DeliverySpan.End(span, delivery);
                }

                worker.Count(delivery, attempt);
                if (delivery.GiveUpBatch && delivery.Error is not null)
                {
                    worker._transportFailed = true;
                }

                var now = worker.Clock.GetUtcNow();
                await worker.Recorder.RecordAsync(claim, new(row.OutboxId, delivery, delivery.Error is null ? now : now + Backoff.After(attempt, Options)));
            }
            catch
            {
                _failed = true; // nothing more starts; the deliveries under way finish
                throw;
            }
            finally
            {
                Permits.Release();
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
    /// own the row, so the attempt is cut off when the claim can no longer be renewed
    /// (<paramref name="leaseEnding"/>), and after a lease at most however the claim fares, so that
    /// one stuck delivery cannot hold its batch for ever. Either counts as a failure, retried later.
    /// </summary>
    async Task<Delivery> DeliverWithinLeaseAsync(IOutboxSender<TRow> sender, TRow row, int attempt, CancellationToken leaseEnding,
        CancellationToken stoppingToken)
    {
        using var withinLease = CancellationTokenSource.CreateLinkedTokenSource(stoppingToken, leaseEnding);
        withinLease.CancelAfter(options.Lease - TimeSpan.FromMilliseconds(100));
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
        catch (Exception ex) when (ex is not (NpgsqlException or OutOfMemoryException))
        {
            // A bug, or a row its transport cannot handle (a mail that cannot be composed): this row's
            // failure, retried and dead-lettered like any other. Thrown on, it would stop the batch and
            // hold its rows for a lease, and come back first in the queue to do it again.
            LogDeliveryFailedUnexpectedly(ex, transport.Lane, row.OutboxId, attempt);
            return Delivery.Failed($"{ex.GetType().Name}: {ex.Message}", attempt, options.MaxAttempts);
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
            var disposition = delivery.Result == DeliveryResult.Dead ? "dead-lettered" : "will retry";
            if (delivery.GiveUpBatch)
            {
                // the relay or the receiver failed, not the row: what it said is about itself, and the operator
                // needs it; an address it quotes all the same (Postfix: "454 4.7.1 <a@b>: Relay access denied") is left out
                LogTransportFailed(transport.Lane, attempt, disposition, AnyAddress().Replace(delivery.Error, "<address>"));
            }
            else
            {
                // the reason stays in outbox.last_error: a reply about one message can quote its address
                LogNotDelivered(transport.Lane, attempt, disposition);
            }
        }
    }

    [GeneratedRegex(@"[^\s<>]+@[^\s<>]+")]
    private static partial Regex AnyAddress();

    [LoggerMessage(Level = LogLevel.Warning, Message = "PostgreSQL is unavailable to the {Lane} outbox worker; retrying in 5 s.")]
    partial void LogDatabaseUnavailable(Exception exception, OutboxLane lane);

    [LoggerMessage(Level = LogLevel.Error, Message = "The {Lane} outbox worker failed unexpectedly; it carries on in 5 s.")]
    partial void LogUnexpected(Exception exception, OutboxLane lane);

    [LoggerMessage(Level = LogLevel.Error, Message = "Delivering {Lane} outbox row {OutboxId} failed unexpectedly on attempt {Attempts}.")]
    partial void LogDeliveryFailedUnexpectedly(Exception exception, OutboxLane lane, long outboxId, int attempts);

    [LoggerMessage(Level = LogLevel.Warning, Message = "A {Lane} delivery failed on attempt {Attempts}; {Disposition}.")]
    partial void LogNotDelivered(OutboxLane lane, int attempts, string disposition);

    [LoggerMessage(Level = LogLevel.Warning,
        Message = "A {Lane} delivery failed on attempt {Attempts} because the relay or receiver did ({Reason}); {Disposition}, and the rest of its batch goes back to the queue untried.")]
    partial void LogTransportFailed(OutboxLane lane, int attempts, string disposition, string reason);
}
