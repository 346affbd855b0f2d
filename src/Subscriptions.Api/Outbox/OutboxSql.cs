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
            RETURNING o.id, o.kind, o.subscription_id, o.locale, o.due_at, o.attempts, o.traceparent
        )
        SELECT c.id AS OutboxId, c.kind AS Kind, c.subscription_id AS SubscriptionId, sub.status AS Status,
               c.locale AS Locale, s.email_as_typed AS EmailAsTyped, w.name AS ListName,
               l.sender_name AS SenderName, l.sender_email AS SenderEmail, sup.reason AS SuppressedReason, c.attempts AS Attempts,
               c.traceparent AS Traceparent
        FROM claimed c
        JOIN subscriptions sub ON sub.id = c.subscription_id
        JOIN subscribers s ON s.id = sub.subscriber_id
        JOIN lists l ON l.id = sub.list_id
        CROSS JOIN LATERAL list_wording(l.id, c.locale) w
        LEFT JOIN suppressions sup ON sup.email = s.email AND sup.lifted_at IS NULL
        ORDER BY c.due_at, c.id
        """;

    /// <summary>
    /// A webhook delivery a worker may take (its due time aside): waiting, not held by a live
    /// claim, for an endpoint neither disabled nor paused, and the oldest waiting event of its
    /// (endpoint, subscriber) queue — the pair's first entry in outbox_webhook_queue, asked for in
    /// that index's own order — so that one subscriber's events reach an endpoint in order.
    /// No waiting event of a queue is older than its head, so `o.id <=` the head's id means `=`;
    /// written `=`, the planner took the test to pass for one row in the whole queue, costed the
    /// claim's index scan at ~120,000 and had PostgreSQL JIT-compile it on every execution (20 ms
    /// of a 22 ms claim). For `<=` it reckons a third of the rows and plans the same scan.
    /// </summary>
    const string WebhookReady = """
              o.kind = 'webhook' AND o.sent_at IS NULL AND o.dead_at IS NULL AND o.due_at IS NOT NULL
              AND (o.locked_until IS NULL OR o.locked_until < @now)
              AND (SELECT w.disabled_at IS NULL AND (w.paused_until IS NULL OR w.paused_until <= @now)
                   FROM webhook_endpoints w WHERE w.id = o.webhook_endpoint_id)
              AND o.id <= (
                  SELECT head.id FROM outbox head
                  WHERE head.kind = 'webhook' AND head.webhook_endpoint_id = o.webhook_endpoint_id
                    AND head.ordering_key = o.ordering_key AND coalesce(head.sent_at, head.dead_at) IS NULL -- waiting: the index's own words (0019)
                  ORDER BY head.webhook_endpoint_id, head.ordering_key, head.id
                  LIMIT 1)
        """;

    /// <summary>Like <see cref="ClaimMail"/>, for the webhook deliveries that are <see cref="WebhookReady"/>.</summary>
    public const string ClaimWebhooks = """
        WITH due AS (
            SELECT o.id FROM outbox o
            WHERE o.due_at <= @now AND
        """ + WebhookReady + """
            ORDER BY o.due_at
            LIMIT @batchSize
            FOR UPDATE SKIP LOCKED
        ),
        claimed AS (
            UPDATE outbox o SET locked_until = @leaseUntil, claim = @claim
            WHERE o.id = ANY (ARRAY(SELECT id FROM due))
            RETURNING o.id, o.webhook_endpoint_id, o.payload, o.due_at, o.attempts, o.traceparent
        )
        SELECT c.id AS OutboxId, w.id AS EndpointId, w.url AS Url, w.secret AS Secret, c.payload::text AS Payload, c.attempts AS Attempts,
               c.traceparent AS Traceparent
        FROM claimed c JOIN webhook_endpoints w ON w.id = c.webhook_endpoint_id
        ORDER BY c.due_at, c.id
        """;

    /// <summary>
    /// A transaction whose statements are planned for the outbox as it is when they run. The claims
    /// and the next-due look are prepared statements (Npgsql's auto-prepare), and after five runs
    /// PostgreSQL keeps one generic plan per connection until the table's statistics change. Made
    /// while the outbox was empty (a new installation, a queue emptied and vacuumed), that plan
    /// scans the whole table in the webhook claim's per-row look: when a burst of events came, each
    /// claim read the outbox once per waiting event (10,000 events: claims cut off by the 30 s
    /// command timeout, holding back vacuum meanwhile; the harness's webhook rounds at 0.3 of the
    /// baseline). Planning each run costs a fraction of a millisecond per batch.
    /// </summary>
    public static async Task<NpgsqlTransaction> BeginPlannedForNowAsync(NpgsqlConnection connection, CancellationToken cancellationToken)
    {
        var transaction = await connection.BeginTransactionAsync(cancellationToken);
        await connection.ExecuteAsync(new CommandDefinition("SET LOCAL plan_cache_mode = force_custom_plan",
            transaction: transaction, cancellationToken: cancellationToken));
        return transaction;
    }

    /// <summary>The outcome of one delivery, to be recorded.</summary>
    public readonly record struct Outcome(long OutboxId, Delivery Delivery, DateTimeOffset RetryAt);

    /// <summary>
    /// Records <paramref name="outcomes"/> (of one batch or several) where their claims still hold
    /// their rows, and puts each sent mail into the ledger: the function outbox_record (migration
    /// 0016: a function so that its plan is made once per connection, not on every call). Rows
    /// are named by id, never found by their claim: the claim column stays out of every index, so
    /// that claiming a row is an update PostgreSQL can make in place (HOT).
    /// </summary>
    public static Task RecordAsync(NpgsqlConnection connection, IReadOnlyList<(Guid Claim, Outcome Outcome)> outcomes, DateTimeOffset now) =>
        connection.ExecuteAsync("SELECT outbox_record(@ids, @claims, @results, @errors, @retryAts, @now)", new
        {
            ids = outcomes.Select(o => o.Outcome.OutboxId).ToArray(),
            claims = outcomes.Select(o => o.Claim).ToArray(),
            results = outcomes.Select(o => o.Outcome.Delivery.Result.ToString()).ToArray(),
            errors = outcomes.Select(o => o.Outcome.Delivery.Error).ToArray(),
            retryAts = outcomes.Select(o => o.Outcome.RetryAt).ToArray(),
            now,
        });

    /// <summary>Hands rows the claim still holds back to the queue as they were: due, their attempts unchanged.</summary>
    public static Task ReleaseAsync(NpgsqlConnection connection, Guid claim, IReadOnlyList<long> ids) =>
        ids.Count == 0 ? Task.CompletedTask : connection.ExecuteAsync(
            "UPDATE outbox SET locked_until = NULL, claim = NULL WHERE id = ANY (@ids) AND claim = @claim", new { claim, ids = ids.ToArray() });

    /// <summary>
    /// Extends the lease of the rows the claim still holds among <paramref name="ids"/>, and names
    /// them. A row locked meanwhile is passed over rather than waited for: either this worker's own
    /// outcome is being written to it (the lock keeps it from every claim until then), or another
    /// worker is claiming it because the lease ran out (it is theirs).
    /// </summary>
    public static async Task<IEnumerable<long>> RenewAsync(NpgsqlConnection connection, Guid claim, IReadOnlyList<long> ids, DateTimeOffset leaseUntil) =>
        await connection.QueryAsync<long>("""
            UPDATE outbox SET locked_until = @leaseUntil
            WHERE id = ANY (ARRAY(SELECT id FROM outbox WHERE id = ANY (@ids) AND claim = @claim FOR UPDATE SKIP LOCKED))
            RETURNING id
            """, new { claim, ids = ids.ToArray(), leaseUntil });

    /// <summary>
    /// When a worker of <paramref name="lane"/> could next claim a row not held by a live claim:
    /// the first such row in due order (index order, so the look stops there, past at most the rows
    /// other workers hold), and for webhooks also the end of a pause that holds waiting events back.
    /// Rows a crashed instance holds are found by the poll once their lease has run out.
    /// </summary>
    public static Task<DateTime?> NextDueAsync(NpgsqlConnection connection, OutboxLane lane, DateTimeOffset now, CancellationToken cancellationToken) =>
        connection.ExecuteScalarAsync<DateTime?>(new CommandDefinition(lane == OutboxLane.Mail ? NextMailDue : NextWebhookDue,
            new { now }, cancellationToken: cancellationToken));

    const string NextMailDue = """
        SELECT due_at FROM outbox
        WHERE kind <> 'webhook' AND sent_at IS NULL AND dead_at IS NULL AND (locked_until IS NULL OR locked_until < @now)
        ORDER BY due_at
        LIMIT 1
        """;

    const string NextWebhookDue = """
        SELECT least(
            (SELECT o.due_at FROM outbox o
             WHERE
        """ + WebhookReady + """
             ORDER BY o.due_at
             LIMIT 1),
            -- a subquery per paused endpoint (as EXISTS the planner joined the whole outbox to every endpoint)
            (SELECT min(w.paused_until) FROM webhook_endpoints w
             WHERE w.disabled_at IS NULL AND w.paused_until > @now
               AND (SELECT true FROM outbox o WHERE o.webhook_endpoint_id = w.id AND o.kind = 'webhook'
                                                AND coalesce(o.sent_at, o.dead_at) IS NULL LIMIT 1)))
        """;

    public sealed record KindDepth(string Kind, long Waiting, DateTime? OldestCreatedAt);

    /// <summary>What waits, per kind: the outbox gauges and the stats endpoint.</summary>
    public static async Task<List<KindDepth>> QueueDepthAsync(NpgsqlConnection connection, CancellationToken cancellationToken) =>
        [.. await connection.QueryAsync<KindDepth>(new CommandDefinition("""
            SELECT kind AS Kind, count(*) AS Waiting, min(created_at) AS OldestCreatedAt
            FROM outbox
            WHERE sent_at IS NULL AND dead_at IS NULL
            GROUP BY kind
            """, cancellationToken: cancellationToken))];
}
