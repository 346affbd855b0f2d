-- Consent evidence names the language of the consent text the reader was shown (list_wording,
-- 0006) beside the text's version. Signups before this migration were all shown the list's own
-- text, but the ledger holds what was recorded at the time, so their rows stay empty rather than
-- being filled in after the fact.
ALTER TABLE subscriptions ADD COLUMN consent_text_language text CHECK (length(consent_text_language) <= 35);
ALTER TABLE subscription_events ADD COLUMN consent_text_language text CHECK (length(consent_text_language) <= 35);

-- Webhook events carry it too, as consent.textLanguage (otherwise as in 0005).
CREATE OR REPLACE FUNCTION queue_webhook_event() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NOT EXISTS (SELECT FROM webhook_endpoints WHERE disabled_at IS NULL) THEN
        RETURN NULL; -- the common case, on every signup: nobody listens
    END IF;

    INSERT INTO outbox (kind, webhook_endpoint_id, ordering_key, payload, created_at, due_at)
    SELECT 'webhook', w.id, s.id,
           jsonb_build_object('type', t.type, 'timestamp', NEW.occurred_at, 'data', jsonb_build_object(
               'email', s.email_as_typed,
               'name', s.name,
               'locale', s.locale,
               'list', l.slug,
               'status', sub.status,
               'confirmedAt', sub.confirmed_at,
               'unsubscribedAt', sub.unsubscribed_at,
               'consent', jsonb_build_object(
                   'at', sub.consent_at, 'ip', host(sub.consent_ip), 'userAgent', sub.consent_user_agent,
                   'source', sub.consent_source, 'textVersion', sub.consent_text_version,
                   'textLanguage', sub.consent_text_language))),
           NEW.occurred_at, NEW.occurred_at
    FROM (SELECT CASE NEW.type
              WHEN 'signup' THEN 'subscription.created'
              WHEN 'confirmed' THEN 'subscription.confirmed'
              WHEN 'unsubscribed' THEN 'subscription.unsubscribed' END AS type) t
    JOIN subscriptions sub ON sub.id = NEW.subscription_id
    JOIN subscribers s ON s.id = sub.subscriber_id
    JOIN lists l ON l.id = NEW.list_id
    JOIN webhook_endpoints w ON w.disabled_at IS NULL AND t.type = ANY (w.events)
                            AND (cardinality(w.lists) = 0 OR l.slug = ANY (w.lists))
    -- a repeat signup of a confirmed address changes nothing, so it tells nobody
    WHERE NOT (NEW.type = 'signup' AND sub.status <> 'pending')
    ORDER BY w.id;
    RETURN NULL;
END
$$;
