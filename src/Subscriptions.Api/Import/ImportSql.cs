namespace Subscriptions.Api.Import;

/// <summary>
/// The import's statements: rows go into a TEMP staging table by binary COPY, a chunk at a time,
/// and each chunk is decided and applied by a handful of set-based statements, never one per row.
/// </summary>
public static class ImportSql
{
    // Dropped first: a pooled connection may still hold one from an import that was cut off.
    public const string CreateStaging = """
        DROP TABLE IF EXISTS import_rows;
        CREATE TEMP TABLE import_rows (
            line                  bigint NOT NULL,
            email                 text NOT NULL,
            email_as_typed        text NOT NULL,
            name                  text,
            locale                text,
            status                text NOT NULL,
            signed_up_at          timestamptz,
            consent_at            timestamptz NOT NULL,
            consent_ip            inet,
            consent_user_agent    text,
            consent_source        text,
            consent_text_version  text NOT NULL,
            consent_text_language text,
            confirmed_at          timestamptz,
            unsubscribed_at       timestamptz,
            mail_language         text NOT NULL,
            address_hash          bytea NOT NULL,
            outcome               text,
            subscriber_id         bigint,
            subscription_id       bigint
        ) ON COMMIT DELETE ROWS;
        """;

    public const string DropStaging = "DROP TABLE IF EXISTS import_rows";

    public const string Copy = """
        COPY import_rows (line, email, email_as_typed, name, locale, status, signed_up_at, consent_at, consent_ip,
            consent_user_agent, consent_source, consent_text_version, consent_text_language, confirmed_at, unsubscribed_at,
            mail_language, address_hash) FROM STDIN (FORMAT BINARY)
        """;

    // What each row would do, against the state the chunk's transaction sees (rows are locked below
    // only when written: a signup racing the import meets ON CONFLICT; a repeated address never
    // reaches the chunk, ImportRun keeps the first). In this order: an address erased and not back since, or suppressed, or
    // unsubscribed from the list, is refused whatever the file says; a cleaned (bounced) row is
    // refused; a new subscription is created; a pending one takes the file's confirmation or
    // opt-out; anything else (a confirmed subscription keeps its own evidence) is kept.
    public const string Classify = """
        ANALYZE import_rows (email, address_hash);
        UPDATE import_rows r SET outcome = c.outcome, subscriber_id = c.subscriber_id, subscription_id = c.subscription_id
        FROM (
            SELECT r.line, s.id AS subscriber_id, sub.id AS subscription_id,
                   CASE
                       WHEN s.id IS NULL AND EXISTS (SELECT FROM erasures e WHERE e.address_hash = r.address_hash) THEN 'erased'
                       WHEN EXISTS (SELECT FROM suppressions p WHERE p.email = r.email AND p.lifted_at IS NULL) THEN 'suppressed'
                       WHEN sub.status = 'unsubscribed' THEN 'unsubscribed'
                       WHEN r.status = 'cleaned' THEN 'cleaned'
                       WHEN sub.id IS NULL THEN 'created'
                       WHEN sub.status = 'pending' AND r.status <> 'pending' THEN 'updated'
                       ELSE 'kept'
                   END AS outcome
            FROM import_rows r
            LEFT JOIN subscribers s ON s.email = r.email
            LEFT JOIN subscriptions sub ON sub.subscriber_id = s.id AND sub.list_id = @listId
        ) c
        WHERE r.line = c.line;
        """;

    // New addresses get a subscriber (an existing one keeps its name and locale), then the
    // subscription with the file's status and evidence; a signup that got there first since the
    // classification wins (ON CONFLICT), and the row counts as kept. A pending subscription takes
    // the file's confirmation with its evidence, or its opt-out. Each created or updated
    // subscription gets an 'imported' ledger row with the file's evidence; each new pending one a
    // confirmation mail (unless turned off), under the signup's per-address caps.
    public const string Apply = """
        -- the outcomes are new: without them the planner takes 'created' for one row, and joins in loops
        ANALYZE import_rows (outcome);
        INSERT INTO subscribers (email, email_as_typed, name, locale, created_at, updated_at)
        SELECT email, email_as_typed, name, locale, coalesce(signed_up_at, @now), @now
        FROM import_rows WHERE outcome = 'created' AND subscriber_id IS NULL
        ORDER BY email
        ON CONFLICT (email) DO NOTHING;

        WITH written AS (
            INSERT INTO subscriptions AS sub (subscriber_id, list_id, status, created_at, updated_at, confirmed_at, unsubscribed_at,
                consent_at, consent_ip, consent_user_agent, consent_source, consent_text_version, consent_text_language)
            SELECT s.id, @listId, r.status, coalesce(r.signed_up_at, @now), @now, r.confirmed_at, r.unsubscribed_at,
                   r.consent_at, r.consent_ip, r.consent_user_agent, r.consent_source, r.consent_text_version, r.consent_text_language
            FROM import_rows r JOIN subscribers s ON s.email = r.email
            WHERE r.outcome = 'created'
            ORDER BY r.line
            ON CONFLICT (subscriber_id, list_id) DO NOTHING
            RETURNING sub.id, sub.subscriber_id
        )
        UPDATE import_rows r SET subscriber_id = w.subscriber_id, subscription_id = w.id
        FROM written w JOIN subscribers s ON s.id = w.subscriber_id
        WHERE r.outcome = 'created' AND s.email = r.email;

        UPDATE import_rows SET outcome = 'kept' WHERE outcome = 'created' AND subscription_id IS NULL;

        WITH changed AS (
            UPDATE subscriptions sub SET
                status = r.status,
                confirmed_at = CASE WHEN r.status = 'confirmed' THEN r.confirmed_at END,
                unsubscribed_at = r.unsubscribed_at,
                consent_at = CASE WHEN r.status = 'confirmed' THEN r.consent_at ELSE sub.consent_at END,
                consent_ip = CASE WHEN r.status = 'confirmed' THEN r.consent_ip ELSE sub.consent_ip END,
                consent_user_agent = CASE WHEN r.status = 'confirmed' THEN r.consent_user_agent ELSE sub.consent_user_agent END,
                consent_source = CASE WHEN r.status = 'confirmed' THEN r.consent_source ELSE sub.consent_source END,
                consent_text_version = CASE WHEN r.status = 'confirmed' THEN r.consent_text_version ELSE sub.consent_text_version END,
                consent_text_language = CASE WHEN r.status = 'confirmed' THEN r.consent_text_language ELSE sub.consent_text_language END,
                updated_at = @now
            FROM import_rows r
            WHERE r.outcome = 'updated' AND sub.id = r.subscription_id AND sub.status = 'pending'
            RETURNING sub.id
        )
        UPDATE import_rows r SET outcome = 'kept'
        WHERE r.outcome = 'updated' AND NOT EXISTS (SELECT FROM changed WHERE changed.id = r.subscription_id);

        INSERT INTO subscription_events (subscription_id, list_id, type, occurred_at, ip, user_agent, source,
            consent_text_version, consent_text_language, reason)
        SELECT r.subscription_id, @listId, 'imported', @now, r.consent_ip, r.consent_user_agent, r.consent_source,
               r.consent_text_version, r.consent_text_language,
               left(@origin || ', ' || r.status || ', consent ' || to_char(r.consent_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'), 100)
        FROM import_rows r
        WHERE r.outcome IN ('created', 'updated')
        ORDER BY r.line;

        WITH enqueued AS (
            INSERT INTO outbox (subscription_id, kind, locale, created_at, due_at)
            SELECT r.subscription_id, 'confirmation', r.mail_language, @now, @now
            FROM import_rows r
            WHERE @sendConfirmations AND r.outcome = 'created' AND r.status = 'pending'
              AND NOT EXISTS (SELECT FROM outbox o JOIN subscriptions sub ON sub.id = o.subscription_id
                              WHERE sub.subscriber_id = r.subscriber_id AND o.created_at > @now - @resendInterval)
              AND (SELECT count(DISTINCT o.created_at) FROM outbox o JOIN subscriptions sub ON sub.id = o.subscription_id
                   WHERE sub.subscriber_id = r.subscriber_id AND o.created_at > @now - interval '1 day') < @dailyLimit
            ON CONFLICT (subscription_id, kind) WHERE sent_at IS NULL AND dead_at IS NULL DO NOTHING
            RETURNING id
        )
        SELECT 'queued' AS Outcome, count(*) AS Rows FROM enqueued
        UNION ALL
        SELECT outcome, count(*) FROM import_rows GROUP BY outcome;
        """;

    public const string Outcomes = "SELECT outcome AS Outcome, count(*) AS Rows FROM import_rows GROUP BY outcome";
}
