namespace Subscriptions.Api.Outbox;

/// <summary>What became of one delivery attempt.</summary>
public enum DeliveryResult
{
    Sent,
    Retry,
    Dead,
}

/// <param name="Error">Why it was not sent; kept in outbox.last_error (never logged: replies can quote the address).</param>
/// <param name="GiveUpBatch">
/// The transport itself failed (the relay does not answer, the receiver timed out): the rest of
/// the batch goes back to the queue at once, untried, instead of each row waiting out its own timeout.
/// </param>
public readonly record struct Delivery(DeliveryResult Result, string? Error = null, bool GiveUpBatch = false)
{
    public static readonly Delivery Sent = new(DeliveryResult.Sent);

    /// <summary>Handed back untried (shutting down): due at once, no attempt counted.</summary>
    public static readonly Delivery HandedBack = new(DeliveryResult.Retry, GiveUpBatch: true);

    public static Delivery Dead(string error) => new(DeliveryResult.Dead, error);

    /// <summary>A failure worth another try, unless the row has had its last one.</summary>
    public static Delivery Failed(string error, int attempts, int maxAttempts, bool giveUpBatch = false) =>
        new(attempts >= maxAttempts ? DeliveryResult.Dead : DeliveryResult.Retry, error, giveUpBatch);
}

/// <summary>A claimed outbox row, as each transport reads it.</summary>
public interface IClaimedRow
{
    long OutboxId { get; }

    /// <summary>Attempts made before this claim.</summary>
    int Attempts { get; }

    /// <summary>confirmation, reminder, welcome or webhook.</summary>
    string Kind { get; }

    /// <summary>The W3C trace context of what wrote the row (migration 0018), when it was traced.</summary>
    string? Traceparent { get; }
}

/// <summary>
/// One transport of the outbox (SMTP, HTTP): which rows it claims and how it delivers them. The
/// loop that claims, fences and records is <see cref="OutboxWorker{TRow}"/>, shared by all.
/// </summary>
public interface IOutboxTransport<TRow> where TRow : IClaimedRow
{
    OutboxLane Lane { get; }

    int Workers { get; }

    /// <summary>
    /// Deliveries a worker has under way or unrecorded at once (its sender must allow that): all
    /// a crash can repeat. An SMTP connection sends one message at a time; HTTP deliveries can go
    /// several at once.
    /// </summary>
    int Concurrency { get; }

    /// <summary>
    /// How long a worker waits before it claims again after the transport itself failed
    /// (<see cref="Delivery.GiveUpBatch"/>). SMTP: the relay is down for every row, so each
    /// connection tries one mail per pause until it is back; claiming on at once would spend an
    /// attempt of every queued mail on a relay that is down, and dead-letter the whole queue in a
    /// long outage. Webhooks: none, the receiver that failed is paused on its own and the next claim
    /// passes it by.
    /// </summary>
    TimeSpan PauseAfterFailure { get; }

    /// <summary>
    /// Whether the lane can have anything to deliver at all (webhooks: only while an endpoint is
    /// registered). When not, its workers neither claim nor look in the outbox: they wait for the
    /// next wake-up or poll.
    /// </summary>
    ValueTask<bool> InUseAsync(CancellationToken cancellationToken);

    /// <summary>Claims up to <paramref name="batchSize"/> due rows for <paramref name="claim"/> until <paramref name="leaseUntil"/>.</summary>
    Task<List<TRow>> ClaimAsync(Npgsql.NpgsqlConnection connection, Guid claim, DateTimeOffset now, DateTimeOffset leaseUntil,
        int batchSize, CancellationToken cancellationToken);

    /// <summary>A worker's own sender (an SMTP connection is used by one worker only).</summary>
    IOutboxSender<TRow> CreateSender();
}

public interface IOutboxSender<TRow> : IAsyncDisposable where TRow : IClaimedRow
{
    /// <summary>
    /// Work for the whole batch before the first delivery (e.g. storing the hashes of the links it
    /// carries), which returns the rows ready to deliver, with what it added to them. A sender keeps
    /// nothing of a batch: the next one may be prepared while this one's last deliveries are under way.
    /// </summary>
    Task<IReadOnlyList<TRow>> PrepareAsync(IReadOnlyList<TRow> batch, CancellationToken cancellationToken);

    /// <param name="attempts">This attempt's number (the row's attempts, this one included).</param>
    /// <param name="cancellationToken">Cancelled at shutdown or when the claim's lease would end.</param>
    Task<Delivery> DeliverAsync(TRow row, int attempts, CancellationToken cancellationToken);
}
