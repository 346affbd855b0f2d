using System.Threading.Channels;

namespace Subscriptions.Api.Outbox;

/// <summary>The outbox's transports: each has its own workers and its own wake-up.</summary>
public enum OutboxLane
{
    Mail,
    Webhooks,
}

/// <summary>
/// Wakes this instance's outbox workers when a request of this instance has queued work. In
/// process rather than NOTIFY: a NOTIFY takes a database-wide lock from its commit until the
/// commit is flushed, so every signup would wait for every other's flush (measured: a third of
/// the signup throughput). Other instances find the work on their next poll; the instance that
/// took the request delivers it at once.
/// </summary>
public sealed class OutboxSignal
{
    // Per lane at most one wake-up pending: raising it again before a worker looks changes nothing.
    readonly Channel<bool>[] _pending = [.. Enum.GetValues<OutboxLane>().Select(_ =>
        Channel.CreateBounded<bool>(new BoundedChannelOptions(1) { FullMode = BoundedChannelFullMode.DropWrite }))];

    /// <summary>Something was queued: every lane looks (webhook rows are written by the database itself, beside any change).</summary>
    public void Raise()
    {
        foreach (var lane in _pending)
        {
            lane.Writer.TryWrite(true);
        }
    }

    public void Raise(OutboxLane lane) => _pending[(int)lane].Writer.TryWrite(true);

    /// <summary>Returns when the lane is raised (at once if it was raised since the last wait) or when the timeout ends.</summary>
    public async Task WaitAsync(OutboxLane lane, TimeSpan timeout, CancellationToken cancellationToken)
    {
        using var timeoutSource = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeoutSource.CancelAfter(timeout);
        try
        {
            await _pending[(int)lane].Reader.ReadAsync(timeoutSource.Token);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            // the timeout: time to poll
        }
    }
}
