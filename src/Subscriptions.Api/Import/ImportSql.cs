namespace Subscriptions.Api.Import;

/// <summary>
/// The import's statements: rows go into a TEMP staging table by binary COPY, a chunk at a time;
/// one statement decides every row of the chunk (into a second TEMP table, with the ids its new
/// rows will take), then one statement per table writes them, never one per row.
/// </summary>
/// <remarks>
/// Measured on a 50,000-row chunk (EXPLAIN ANALYZE, README "Import"): what is left is the work
/// PostgreSQL does for each row it stores, index entries and the four foreign-key checks
/// (~8 µs each here). What went: JIT compilation of the classification (~1.3 s a chunk: its
/// estimated cost is far above jit_above_cost, the work is not), two UPDATEs of the staging
/// table (new ids are taken up front with nextval), and the ANALYZEs (no statement here joins
/// staging rows with a plan the planner could get wrong: the lookups are LATERAL ... LIMIT 1
/// index probes, the writes read the decided table straight through).
/// </remarks>
public static class ImportSql
{
    // Made in each chunk's transaction and dropped at its end (commit or rollback), so that no
    // session state outlives a transaction: through PgBouncer in transaction mode the next
    // transaction of the same connection may run on another server connection. Dropped first: a
    // server connection may still hold session-level ones from an import of an earlier version.
    public const string CreateStaging = """
        DROP TABLE IF EXISTS import_rows;
        DROP TABLE IF EXISTS import_decided;
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
            address_hash          bytea NOT NULL
        ) ON COMMIT DROP;
        CREATE TEMP TABLE import_decided (
            LIKE import_rows,
            outcome               text NOT NULL,
            subscriber_id         bigint,
            subscription_id       bigint,
            new_subscriber_id     bigint,
            new_subscription_id   bigint
        ) ON COMMIT DROP;
        """;

    public const string Copy = """
        COPY import_rows (line, email, email_as_typed, name, locale, status, signed_up_at, consent_at, consent_ip,
            consent_user_agent, consent_source, consent_text_version, consent_text_language, confirmed_at, unsubscribed_at,
            mail_language, address_hash) FROM STDIN (FORMAT BINARY)
        """;

    // What each row would do, against the state this statement sees (rows are locked only when
    // written: a signup racing the import makes a write below fail, and the chunk is decided
    // again; a repeated address never reaches the chunk, ImportRun keeps the first). In this
    // order: an address erased and not back since, or suppressed, or unsubscribed from the list,
    // is refused whatever the file says; a cleaned (bounced) row is refused; a new subscription
    // is created; a pending one takes the file's confirmation or opt-out; anything else (a
    // confirmed subscription keeps its own evidence) is kept. A row to create takes its ids now
    // (the identity sequences' own), so no write has to find them again; a dry run takes none.
    // OFFSET 0 keeps the subquery whole, so each row's outcome is worked out once.
    public const string Classify = """
        SET LOCAL jit = off;
        INSERT INTO import_decided (line, email, email_as_typed, name, locale, status, signed_up_at, consent_at, consent_ip,
            consent_user_agent, consent_source, consent_text_version, consent_text_language, confirmed_at, unsubscribed_at,
            mail_language, address_hash, outcome, subscriber_id, subscription_id, new_subscriber_id, new_subscription_id)
        SELECT line, email, email_as_typed, name, locale, status, signed_up_at, consent_at, consent_ip,
               consent_user_agent, consent_source, consent_text_version, consent_text_language, confirmed_at, unsubscribed_at,
               mail_language, address_hash, outcome, subscriber_id, subscription_id,
               CASE WHEN NOT @dryRun AND outcome = 'created' AND subscriber_id IS NULL THEN nextval('subscribers_id_seq') END,
               CASE WHEN NOT @dryRun AND outcome = 'created' THEN nextval('subscriptions_id_seq') END
        FROM (
            SELECT r.line, r.email, r.email_as_typed, r.name, r.locale, r.status, r.signed_up_at, r.consent_at, r.consent_ip,
                   r.consent_user_agent, r.consent_source, r.consent_text_version, r.consent_text_language, r.confirmed_at,
                   r.unsubscribed_at, r.mail_language, r.address_hash, s.id AS subscriber_id, sub.id AS subscription_id,
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
            LEFT JOIN LATERAL (SELECT id FROM subscribers WHERE email = r.email LIMIT 1) s ON true
            LEFT JOIN LATERAL (SELECT id, status FROM subscriptions WHERE subscriber_id = s.id AND list_id = @listId LIMIT 1) sub ON true
            OFFSET 0
        ) AS decided
        """;

    // New addresses get a subscriber, then every created row its subscription with the file's
    // status and evidence, and an 'imported' ledger row. No ON CONFLICT: a signup that stored the
    // same address (or subscription) since the classification makes the insert fail, and
    // ImportRun decides the chunk again, where that row is no longer new.
    public const string InsertSubscribers = """
        INSERT INTO subscribers (id, email, email_as_typed, name, locale, created_at, updated_at) OVERRIDING SYSTEM VALUE
        SELECT new_subscriber_id, email, email_as_typed, name, locale, coalesce(signed_up_at, @now), @now
        FROM import_decided WHERE new_subscriber_id IS NOT NULL
        ORDER BY email
        """;

    public const string InsertSubscriptions = """
        INSERT INTO subscriptions (id, subscriber_id, list_id, status, created_at, updated_at, confirmed_at, unsubscribed_at,
            consent_at, consent_ip, consent_user_agent, consent_source, consent_text_version, consent_text_language) OVERRIDING SYSTEM VALUE
        SELECT new_subscription_id, coalesce(subscriber_id, new_subscriber_id), @listId, status, coalesce(signed_up_at, @now), @now,
               confirmed_at, unsubscribed_at, consent_at, consent_ip, consent_user_agent, consent_source, consent_text_version,
               consent_text_language
        FROM import_decided WHERE new_subscription_id IS NOT NULL
        """;

    const string LedgerColumns = """
        subscription_events (subscription_id, list_id, type, occurred_at, ip, user_agent, source,
            consent_text_version, consent_text_language, reason)
        """;

    const string LedgerReason = """
        left(@origin || ', ' || status || ', consent ' || to_char(consent_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'), 100)
        """;

    public const string LedgerOfCreated = $"""
        INSERT INTO {LedgerColumns}
        SELECT new_subscription_id, @listId, 'imported', @now, consent_ip, consent_user_agent, consent_source,
               consent_text_version, consent_text_language, {LedgerReason}
        FROM import_decided WHERE new_subscription_id IS NOT NULL
        """;

    // A pending subscription takes the file's confirmation with its evidence, or its opt-out, and
    // an 'imported' ledger row; one that stopped being pending since the classification is kept
    // (the UPDATE re-checks it). Answers how many changed.
    public const string UpdatePending = $"""
        WITH changed AS (
            UPDATE subscriptions sub SET
                status = d.status,
                confirmed_at = CASE WHEN d.status = 'confirmed' THEN d.confirmed_at END,
                unsubscribed_at = d.unsubscribed_at,
                consent_at = CASE WHEN d.status = 'confirmed' THEN d.consent_at ELSE sub.consent_at END,
                consent_ip = CASE WHEN d.status = 'confirmed' THEN d.consent_ip ELSE sub.consent_ip END,
                consent_user_agent = CASE WHEN d.status = 'confirmed' THEN d.consent_user_agent ELSE sub.consent_user_agent END,
                consent_source = CASE WHEN d.status = 'confirmed' THEN d.consent_source ELSE sub.consent_source END,
                consent_text_version = CASE WHEN d.status = 'confirmed' THEN d.consent_text_version ELSE sub.consent_text_version END,
                consent_text_language = CASE WHEN d.status = 'confirmed' THEN d.consent_text_language ELSE sub.consent_text_language END,
                updated_at = @now
            FROM import_decided d
            WHERE d.outcome = 'updated' AND sub.id = d.subscription_id AND sub.status = 'pending'
            RETURNING sub.id, d.line, d.status, d.consent_at, d.consent_ip, d.consent_user_agent, d.consent_source,
                      d.consent_text_version, d.consent_text_language
        ),
        ledger AS (
            INSERT INTO {LedgerColumns}
            SELECT id, @listId, 'imported', @now, consent_ip, consent_user_agent, consent_source,
                   consent_text_version, consent_text_language, {LedgerReason}
            FROM changed
            ORDER BY line
        )
        SELECT count(*) FROM changed
        """;

    // Each new pending subscription gets a confirmation mail (unless turned off), under the
    // signup's per-address caps (which only an address known before can have reached).
    public const string QueueConfirmations = """
        WITH enqueued AS (
            INSERT INTO outbox (subscription_id, kind, locale, created_at, due_at)
            SELECT d.new_subscription_id, 'confirmation', d.mail_language, @now, @now
            FROM import_decided d
            WHERE d.new_subscription_id IS NOT NULL AND d.status = 'pending'
              AND (d.subscriber_id IS NULL OR (
                  NOT EXISTS (SELECT FROM outbox o JOIN subscriptions sub ON sub.id = o.subscription_id
                              WHERE sub.subscriber_id = d.subscriber_id AND o.created_at > @now - @resendInterval)
                  AND (SELECT count(DISTINCT o.created_at) FROM outbox o JOIN subscriptions sub ON sub.id = o.subscription_id
                       WHERE sub.subscriber_id = d.subscriber_id AND o.created_at > @now - interval '1 day') < @dailyLimit))
            ON CONFLICT (subscription_id, kind) WHERE sent_at IS NULL AND dead_at IS NULL DO NOTHING
            RETURNING id
        )
        SELECT count(*) FROM enqueued
        """;

    public const string Outcomes = "SELECT outcome AS Outcome, count(*) AS Rows FROM import_decided GROUP BY outcome";
}
