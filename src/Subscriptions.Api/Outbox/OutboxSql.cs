using Dapper;
using Npgsql;

namespace Subscriptions.Api.Outbox;

/// <summary>
/// The outbox's state in SQL, for the workers and the admin endpoints alike. A claim is fenced:
/// every row carries the claim that may deliver it, and each statement that starts or records a
/// delivery names that claim, so a worker whose rows were taken over (its lease ran out) neither
/// delivers them nor overwrites what the new owner recorded.
/// </summary>
public static class OutboxSql
{
    /// <summary>
    /// Due mails not held by a live claim, longest due first (a batch handed back after a relay
    /// failure is tried from its untried rows, not from the one that just failed again), with what
    /// composing them needs: the list's name is its wording in the mail's language (list_wording),
    /// and the reason the address is suppressed, if it is (such a mail is dead-lettered, not sent).
    /// </summary>
    public const string ClaimMail = """
        WITH due AS (
            SELECT id FROM outbox
            WHERE kind <> 'webhook' AND sent_at IS NULL AND dead_at IS NULL AND due_at <= @now
              AND (locked_until IS NULL OR locked_until < @now)
            ORDER BY due_at
            LIMIT @batchSize
            FOR UPDATE SKIP LOCKED
        ),
        claimed AS (
            UPDATE outbox o SET locked_until = @leaseUntil, claim = @claim
            WHERE o.id = ANY (ARRAY(SELECT id FROM due)) -- by primary key, not a join the planner may scan the table for
            RETURNING o.id, o.kind, o.subscription_id, o.locale, o.due_at
        )
        SELECT c.id AS OutboxId, c.kind AS Kind, c.subscription_id AS SubscriptionId, sub.status AS Status,
               c.locale AS Locale, s.email_as_typed AS EmailAsTyped, w.name AS ListName,
               l.sender_name AS SenderName, l.sender_email AS SenderEmail, sup.reason AS SuppressedReason
        FROM claimed c
        JOIN subscriptions sub ON sub.id = c.subscription_id
        JOIN subscribers s ON s.id = sub.subscriber_id
        JOIN lists l ON l.id = sub.list_id
        CROSS JOIN LATERAL list_wording(l.id, c.locale) w
        LEFT JOIN suppressions sup ON sup.email = s.email AND sup.lifted_at IS NULL
        ORDER BY c.due_at, c.id
        """;

    /// <summary>
    /// Like <see cref="ClaimMail"/>, for webhook deliveries: only the oldest waiting event of each
    /// (endpoint, subscriber) pair, so that one subscriber's events reach an endpoint in order, and
    /// none for an endpoint that is disabled or paused.
    /// </summary>
    public const string ClaimWebhooks = """
        WITH due AS (
            SELECT o.id FROM outbox o
            JOIN webhook_endpoints w ON w.id = o.webhook_endpoint_id
            WHERE o.kind = 'webhook' AND o.sent_at IS NULL AND o.dead_at IS NULL AND o.due_at <= @now
              AND (o.locked_until IS NULL OR o.locked_until < @now)
              AND w.disabled_at IS NULL AND (w.paused_until IS NULL OR w.paused_until <= @now)
              -- the oldest waiting event of its (endpoint, subscriber) queue: the pair's first entry in
              -- outbox_webhook_queue, asked for in that index's own order
              AND o.id = (
                  SELECT head.id FROM outbox head
                  WHERE head.kind = 'webhook' AND head.webhook_endpoint_id = o.webhook_endpoint_id
                    AND head.ordering_key = o.ordering_key AND head.sent_at IS NULL AND head.dead_at IS NULL
                  ORDER BY head.webhook_endpoint_id, head.ordering_key, head.id
                  LIMIT 1)
            ORDER BY o.due_at
            LIMIT @batchSize
            FOR UPDATE OF o SKIP LOCKED
        ),
        claimed AS (
            UPDATE outbox o SET locked_until = @leaseUntil, claim = @claim
            WHERE o.id = ANY (ARRAY(SELECT id FROM due))
            RETURNING o.id, o.webhook_endpoint_id, o.payload, o.due_at
        )
        SELECT c.id AS OutboxId, w.id AS EndpointId, w.url AS Url, w.secret AS Secret, c.payload::text AS Payload
        FROM claimed c JOIN webhook_endpoints w ON w.id = c.webhook_endpoint_id
        ORDER BY c.due_at, c.id
        """;

    /// <summary>
    /// One round trip per group of deliveries: records the outcomes of the previous group and
    /// starts the next — renewing each row's lease, counting the attempt — for the rows the claim
    /// still holds. A sent mail goes into the ledger as '{kind}_sent'.
    /// </summary>
    const string RecordAndBeginSql = """
        WITH outcome AS (
            SELECT * FROM unnest(@recordIds, @results, @errors, @retryAts) AS o(id, result, error, retry_at)
        ),
        recorded AS (
            UPDATE outbox SET
                sent_at = CASE WHEN o.result = 'Sent' THEN @now END,
                dead_at = CASE WHEN o.result = 'Dead' THEN @now END,
                due_at = CASE WHEN o.result = 'Retry' THEN o.retry_at ELSE outbox.due_at END,
                last_error = coalesce(o.error, outbox.last_error),
                locked_until = NULL,
                claim = NULL
            FROM outcome o
            WHERE outbox.id = o.id AND outbox.claim = @claim
            RETURNING outbox.subscription_id, outbox.kind, o.result
        ),
        ledger AS (
            INSERT INTO subscription_events (subscription_id, list_id, type, occurred_at)
            SELECT r.subscription_id, s.list_id, r.kind || '_sent', @now
            FROM recorded r JOIN subscriptions s ON s.id = r.subscription_id
            WHERE r.result = 'Sent' AND r.kind <> 'webhook'
        ),
        begun AS (
            UPDATE outbox SET locked_until = @leaseUntil, attempts = attempts + 1
            WHERE id = ANY (@beginIds) AND claim = @claim AND sent_at IS NULL AND dead_at IS NULL
            RETURNING id, attempts
        ),
        released AS (
            UPDATE outbox SET locked_until = NULL, claim = NULL
            WHERE id = ANY (@releaseIds) AND claim = @claim
        )
        SELECT id AS OutboxId, attempts AS Attempts FROM begun
        """;

    /// <summary>The outcome of one delivery, to be recorded.</summary>
    public readonly record struct Outcome(long OutboxId, Delivery Delivery, DateTimeOffset RetryAt);

    /// <summary>
    /// Records <paramref name="previous"/>, then begins <paramref name="nextIds"/>: the attempt
    /// number of each row the claim still holds (a row it lost is missing). The rows of
    /// <paramref name="releaseIds"/> the claim still holds go back to the queue as they were (due,
    /// their attempts unchanged). Rows are named by id, never found by their claim: the claim
    /// column stays out of every index, so that claiming a row is an update PostgreSQL can make
    /// in place (HOT).
    /// </summary>
    public static async Task<Dictionary<long, int>> RecordAndBeginAsync(
        NpgsqlConnection connection, Guid claim, IReadOnlyList<Outcome> previous, IReadOnlyList<long> nextIds, DateTimeOffset now,
        DateTimeOffset leaseUntil, IReadOnlyList<long>? releaseIds = null) =>
        (await connection.QueryAsync<(long OutboxId, int Attempts)>(RecordAndBeginSql, new
        {
            claim,
            recordIds = previous.Select(o => o.OutboxId).ToArray(),
            results = previous.Select(o => o.Delivery.Result.ToString()).ToArray(),
            errors = previous.Select(o => o.Delivery.Error).ToArray(),
            retryAts = previous.Select(o => o.RetryAt).ToArray(),
            beginIds = nextIds.ToArray(),
            now,
            leaseUntil,
            releaseIds = (releaseIds ?? []).ToArray(),
        })).ToDictionary(b => b.OutboxId, b => b.Attempts);

    /// <summary>Extends the lease of the rows the claim still holds among <paramref name="ids"/>.</summary>
    public static Task RenewAsync(NpgsqlConnection connection, Guid claim, IReadOnlyList<long> ids, DateTimeOffset leaseUntil) =>
        connection.ExecuteAsync("UPDATE outbox SET locked_until = @leaseUntil WHERE id = ANY (@ids) AND claim = @claim",
            new { claim, ids = ids.ToArray(), leaseUntil });

    public sealed record KindDepth(string Kind, long Waiting, DateTime? OldestCreatedAt, DateTime? NextDueAt);

    /// <summary>
    /// What waits, per kind: the dispatcher's next wake-up and metrics, and the stats endpoint.
    /// NextDueAt is when a worker could next claim a row of the kind: a webhook delivery also waits
    /// out its endpoint's pause and the event before it (the head-of-queue test of
    /// <see cref="ClaimWebhooks"/>), and one for a disabled endpoint never comes due. Counted as
    /// due at once, such rows kept every webhook worker polling every 10 ms (measured: ~570
    /// transactions a second for one event waiting on a paused endpoint, against ~9 idle).
    /// </summary>
    public static async Task<List<KindDepth>> QueueDepthAsync(NpgsqlConnection connection, CancellationToken cancellationToken) =>
        [.. await connection.QueryAsync<KindDepth>(new CommandDefinition("""
            SELECT o.kind AS Kind, count(*) AS Waiting, min(o.created_at) AS OldestCreatedAt,
                   min(greatest(o.due_at, o.locked_until, w.paused_until)) FILTER (
                       WHERE w.disabled_at IS NULL AND (o.kind <> 'webhook' OR o.id = (
                           SELECT min(head.id) FROM outbox head
                           WHERE head.kind = 'webhook' AND head.webhook_endpoint_id = o.webhook_endpoint_id
                             AND head.ordering_key = o.ordering_key AND head.sent_at IS NULL AND head.dead_at IS NULL))) AS NextDueAt
            FROM outbox o LEFT JOIN webhook_endpoints w ON w.id = o.webhook_endpoint_id
            WHERE o.sent_at IS NULL AND o.dead_at IS NULL
            GROUP BY o.kind
            """, cancellationToken: cancellationToken))];
}
