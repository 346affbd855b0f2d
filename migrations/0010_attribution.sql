-- Attribution: the utm_source, utm_medium and utm_campaign a signup came with (its own fields, else
-- the query string of its source page), kept with the consent evidence of the subscription and in
-- the ledger's signup event. At most 100 characters each (Signup/Attribution.cs).
ALTER TABLE subscriptions
    ADD COLUMN utm_source   text CHECK (length(utm_source) <= 100),
    ADD COLUMN utm_medium   text CHECK (length(utm_medium) <= 100),
    ADD COLUMN utm_campaign text CHECK (length(utm_campaign) <= 100);
ALTER TABLE subscription_events
    ADD COLUMN utm_source   text CHECK (length(utm_source) <= 100),
    ADD COLUMN utm_medium   text CHECK (length(utm_medium) <= 100),
    ADD COLUMN utm_campaign text CHECK (length(utm_campaign) <= 100);
-- Free text from the request, like the source: wiped from the ledger with the other personal
-- fields (wipe_personal_ledger, 0011) by erasure and by retention's purge alike.
COMMENT ON COLUMN subscription_events.utm_source IS 'personal';
COMMENT ON COLUMN subscription_events.utm_medium IS 'personal';
COMMENT ON COLUMN subscription_events.utm_campaign IS 'personal';

-- Webhook events carry the attribution as consent.utmSource, utmMedium, utmCampaign (otherwise as in 0007).
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
                   'textLanguage', sub.consent_text_language,
                   'utmSource', sub.utm_source, 'utmMedium', sub.utm_medium, 'utmCampaign', sub.utm_campaign))),
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
