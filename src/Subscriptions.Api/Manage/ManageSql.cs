namespace Subscriptions.Api.Manage;

/// <summary>The preference centre's statements: what the reader sees, and each change with its ledger rows (the ledger's trigger tells the webhooks of subscription events; a language change queues its subscriber.updated itself).</summary>
public static class ManageSql
{
    /// <summary>The reader the link names (through one of their subscriptions).</summary>
    public const string Reader = """
        SELECT s.id AS SubscriberId, s.email AS Email, s.locale AS Locale
        FROM subscriptions sub JOIN subscribers s ON s.id = sub.subscriber_id
        WHERE sub.id = @subscriptionId
        """;

    /// <summary>
    /// The lists the reader may choose: those neither hidden nor archived, and any list they are
    /// on (so that they can leave a hidden or archived one), each with their status on it.
    /// </summary>
    public const string Choices = """
        SELECT l.slug AS Slug, w.name AS Name, sub.status AS Status
        FROM lists l
        CROSS JOIN LATERAL list_wording(l.id, @language) w
        LEFT JOIN subscriptions sub ON sub.list_id = l.id AND sub.subscriber_id = @subscriberId
        WHERE (NOT l.hidden AND l.archived_at IS NULL) OR sub.status IN ('pending', 'confirmed')
        ORDER BY l.slug = 'news' DESC, w.name, l.slug
        """;

    /// <summary>
    /// The reader's choice, in one statement. Lists chosen that they are not on (or left) are
    /// joined at once, confirmed: the link proves the mailbox. The consent evidence is recorded
    /// as a signup's (time, IP, user agent, the text's version and language) with source
    /// 'manage', and the ledger gets 'signup' and 'confirmed' (the trigger sends
    /// subscription.confirmed). Active subscriptions not chosen are left ('unsubscribed', with
    /// their unsent mail cancelled and links spent). A suppressed address joins nothing.
    /// </summary>
    public const string Choose = """
        WITH traced AS (
            -- the request's trace, for the webhook events of this transaction: the ledger trigger's
            -- here, ChangeLanguage's after it (0018; the setting lasts until the transaction ends)
            SELECT set_config('subscriptions.traceparent', coalesce(@traceparent, ''), true)
        ),
        reader AS (
            SELECT id FROM subscribers WHERE id = @subscriberId FOR UPDATE
        ),
        joined AS (
            INSERT INTO subscriptions AS sub (subscriber_id, list_id, status, created_at, updated_at, confirmed_at,
                consent_at, consent_ip, consent_user_agent, consent_source, consent_text_version, consent_text_language)
            SELECT reader.id, l.id, 'confirmed', @now, @now, @now, @now, @ip::inet, @userAgent, 'manage', l.consent_text_version, w.language
            FROM reader CROSS JOIN lists l CROSS JOIN LATERAL list_wording(l.id, @language) w
            WHERE l.slug = ANY (@chosen) AND NOT l.hidden AND l.archived_at IS NULL AND NOT @suppressed
            ON CONFLICT (subscriber_id, list_id) DO UPDATE SET
                status = 'confirmed', confirmed_at = EXCLUDED.confirmed_at, unsubscribed_at = NULL, updated_at = EXCLUDED.updated_at,
                consent_at = EXCLUDED.consent_at, consent_ip = EXCLUDED.consent_ip, consent_user_agent = EXCLUDED.consent_user_agent,
                consent_source = EXCLUDED.consent_source, consent_text_version = EXCLUDED.consent_text_version,
                consent_text_language = EXCLUDED.consent_text_language
            WHERE sub.status = 'unsubscribed'
            RETURNING sub.id, sub.list_id, sub.consent_text_version, sub.consent_text_language
        ),
        left_lists AS (
            UPDATE subscriptions sub SET status = 'unsubscribed', unsubscribed_at = @now, updated_at = @now
            FROM lists l
            WHERE sub.subscriber_id = (SELECT id FROM reader) AND l.id = sub.list_id
              AND sub.status IN ('pending', 'confirmed') AND NOT (l.slug = ANY (@chosen))
            RETURNING sub.id, sub.list_id
        ),
        spent AS (
            UPDATE tokens SET used_at = @now WHERE subscription_id IN (SELECT id FROM left_lists) AND used_at IS NULL
        ),
        cancelled AS (
            UPDATE outbox SET dead_at = @now, last_error = 'not sent: unsubscribed'
            WHERE subscription_id IN (SELECT id FROM left_lists) AND sent_at IS NULL AND dead_at IS NULL
        ),
        recorded AS (
            INSERT INTO subscription_events (subscription_id, list_id, type, occurred_at, ip, user_agent, source,
                consent_text_version, consent_text_language)
            SELECT id, list_id, type, @now, ip, user_agent, 'manage', consent_text_version, consent_text_language
            FROM (SELECT j.id, j.list_id, e.type, e.n, @ip::inet AS ip, @userAgent AS user_agent, j.consent_text_version, j.consent_text_language
                  FROM joined j CROSS JOIN (VALUES (1, 'signup'), (2, 'confirmed')) AS e (n, type)
                  UNION ALL
                  SELECT id, list_id, 'unsubscribed', 3, NULL, NULL, NULL, NULL FROM left_lists) AS changes
            ORDER BY id, n
        )
        SELECT (SELECT count(*) FROM joined) AS Joined, (SELECT count(*) FROM left_lists) AS LeftLists FROM traced
        """;

    /// <summary>
    /// The language of the reader's mails, when it changed: a ledger row per subscription, and
    /// one subscriber.updated event for each endpoint that asked for it (written here, once per
    /// reader, as suppression and erasure write theirs: the ledger's trigger fires per
    /// subscription). Its lists are the reader's current ones (pending or confirmed, after the
    /// choice saved in the same transaction), and a list filter must name one of them.
    /// </summary>
    public const string ChangeLanguage = """
        WITH reader AS (
            SELECT id, locale FROM subscribers WHERE id = @subscriberId FOR UPDATE
        ),
        changed AS (
            UPDATE subscribers s SET locale = @language, updated_at = @now
            FROM reader
            WHERE s.id = reader.id AND reader.locale IS DISTINCT FROM @language
            RETURNING s.id, s.email_as_typed, s.name, reader.locale AS previous_locale
        ),
        recorded AS (
            INSERT INTO subscription_events (subscription_id, list_id, type, occurred_at, source, reason)
            SELECT sub.id, sub.list_id, 'locale_changed', @now, 'manage', @language
            FROM subscriptions sub JOIN changed ON changed.id = sub.subscriber_id
            ORDER BY sub.id
        ),
        current_lists AS (
            SELECT coalesce(array_agg(l.slug ORDER BY l.slug), '{}') AS slugs
            FROM subscriptions sub JOIN lists l ON l.id = sub.list_id
            WHERE sub.subscriber_id = @subscriberId AND sub.status IN ('pending', 'confirmed')
        )
        INSERT INTO outbox (kind, webhook_endpoint_id, ordering_key, payload, created_at, due_at)
        SELECT 'webhook', w.id, changed.id,
               jsonb_build_object('type', 'subscriber.updated', 'timestamp', @now, 'data', jsonb_build_object(
                   'email', changed.email_as_typed, 'name', changed.name, 'locale', @language::text,
                   'previousLocale', changed.previous_locale, 'lists', current_lists.slugs)),
               @now, @now
        FROM changed CROSS JOIN current_lists
        JOIN webhook_endpoints w ON w.disabled_at IS NULL AND 'subscriber.updated' = ANY (w.events)
                                AND (cardinality(w.lists) = 0 OR w.lists && current_lists.slugs)
        ORDER BY w.id
        """;
}
