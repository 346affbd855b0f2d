using System.Threading.Channels;

namespace Subscriptions.Api.Mail;

/// <summary>
/// Wakes this instance's mail dispatcher when a request of this instance has queued mail. In
/// process rather than NOTIFY: a NOTIFY takes a database-wide lock from its commit until the
/// commit is flushed, so every signup would wait for every other's flush (measured: a third of
/// the signup throughput). Other instances find the mail on their next poll; the instance that
/// took the signup sends it at once.
/// </summary>
public sealed class OutboxSignal
{
    // At most one wake-up pending: raising it again before the dispatcher looks changes nothing.
    readonly Channel<bool> _pending = Channel.CreateBounded<bool>(new BoundedChannelOptions(1) { FullMode = BoundedChannelFullMode.DropWrite });

    public void Raise() => _pending.Writer.TryWrite(true);

    /// <summary>Returns when raised (at once if it was raised since the last wait) or when the timeout ends.</summary>
    public async Task WaitAsync(TimeSpan timeout, CancellationToken cancellationToken)
    {
        using var timeoutSource = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeoutSource.CancelAfter(timeout);
        try
        {
            await _pending.Reader.ReadAsync(timeoutSource.Token);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            // the timeout: time to poll
        }
    }
}
