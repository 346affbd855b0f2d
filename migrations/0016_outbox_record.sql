-- The outbox's record statement (OutboxSql.RecordAsync) as a function, so that PostgreSQL plans it
-- once per connection. Sent as a prepared statement it was planned again on every call: its
-- arrays' length is known to a custom plan (one or two rows), so the generic plan (costed for
-- a hundred) never looked cheaper, and planning took as long as running (~0.3 ms of ~0.6 ms a
-- call; a call records the outcomes of ~2 deliveries). PL/pgSQL keeps the plan of its statement
-- for the session and, under the SET below, always the generic one: also through a pooler that
-- rules out prepared statements (PgBouncer in transaction mode, Max Auto Prepare=0).
--
-- Records outcomes where their claims still hold their rows (a row another worker took over is
-- theirs to record), counting the attempt of each row that was tried, and puts a sent mail into
-- the ledger as '{kind}_sent'.
CREATE FUNCTION outbox_record(ids bigint[], claims uuid[], results text[], errors text[], retry_ats timestamptz[], recorded_at timestamptz)
RETURNS void
LANGUAGE plpgsql
SET plan_cache_mode = force_generic_plan
AS $$
BEGIN
    WITH outcome AS (
        SELECT * FROM unnest(ids, claims, results, errors, retry_ats) AS o(id, claim, result, error, retry_at)
    ),
    recorded AS (
        UPDATE outbox SET
            sent_at = CASE WHEN o.result = 'Sent' THEN recorded_at END,
            dead_at = CASE WHEN o.result = 'Dead' THEN recorded_at END,
            due_at = CASE WHEN o.result = 'Retry' THEN o.retry_at ELSE outbox.due_at END,
            last_error = coalesce(o.error, outbox.last_error),
            -- handed back untried (shutting down): no attempt
            attempts = outbox.attempts + CASE WHEN o.result = 'Retry' AND o.error IS NULL THEN 0 ELSE 1 END,
            locked_until = NULL,
            claim = NULL
        FROM outcome o
        WHERE outbox.id = o.id AND outbox.claim = o.claim
        RETURNING outbox.subscription_id, outbox.kind, o.result
    )
    INSERT INTO subscription_events (subscription_id, list_id, type, occurred_at)
    SELECT r.subscription_id, s.list_id, r.kind || '_sent', recorded_at
    FROM recorded r JOIN subscriptions s ON s.id = r.subscription_id
    WHERE r.result = 'Sent' AND r.kind <> 'webhook';
END
$$;
