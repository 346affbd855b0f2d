-- The outbox carries every side effect: confirmation, reminder and welcome mails, and webhook deliveries.

-- Endpoints of the publisher's other systems that hear about changes (Standard Webhooks). The
-- secret signs every delivery; it is shown once, when the endpoint is registered.
CREATE TABLE webhook_endpoints (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    url          text NOT NULL CHECK (length(url) <= 2000),
    secret       text NOT NULL,
    events       text[] NOT NULL CHECK (cardinality(events) > 0),
    lists        text[] NOT NULL DEFAULT '{}',
    description  text CHECK (length(description) <= 500),
    created_at   timestamptz NOT NULL,
    -- a receiver answered 410 Gone: nothing more is delivered to it
    disabled_at  timestamptz,
    -- a receiver that timed out or refused the connection is left alone until then
    paused_until timestamptz
);

ALTER TABLE outbox DROP CONSTRAINT outbox_kind_check;
ALTER TABLE outbox ADD CONSTRAINT outbox_kind_check CHECK (kind IN ('confirmation', 'reminder', 'welcome', 'webhook'));
ALTER TABLE outbox ALTER COLUMN subscription_id DROP NOT NULL;
ALTER TABLE outbox
    -- the claim that may deliver the row: a worker whose claim was taken over delivers nothing
    ADD COLUMN claim uuid,
    ADD COLUMN webhook_endpoint_id bigint REFERENCES webhook_endpoints (id) ON DELETE CASCADE,
    -- webhooks: the subscriber the event is about; one subscriber's events reach an endpoint in order
    ADD COLUMN ordering_key bigint,
    -- webhooks: the body, fixed when the change happened
    ADD COLUMN payload jsonb,
    ADD CONSTRAINT outbox_kind_fields CHECK (CASE WHEN kind = 'webhook'
        THEN webhook_endpoint_id IS NOT NULL AND payload IS NOT NULL AND subscription_id IS NULL
        ELSE subscription_id IS NOT NULL END);

-- At most one mail of each kind waits per subscription (a welcome may wait beside a late confirmation).
DROP INDEX outbox_waiting;
CREATE UNIQUE INDEX outbox_waiting ON outbox (subscription_id, kind) WHERE sent_at IS NULL AND dead_at IS NULL;

-- Each transport claims its due rows in due order, through an index of its own: a backlog of one
-- (webhooks to a receiver that is down, say) must not be read through by the other's claims.
DROP INDEX outbox_due;
CREATE INDEX outbox_due ON outbox (due_at) WHERE kind <> 'webhook' AND sent_at IS NULL AND dead_at IS NULL;
-- (due_at IS NOT NULL, always true, keeps this index out of the head-of-queue test below, which
-- does not name due_at: on a table with stale statistics the planner read it whole per candidate)
CREATE INDEX outbox_webhook_due ON outbox (due_at) WHERE kind = 'webhook' AND sent_at IS NULL AND dead_at IS NULL AND due_at IS NOT NULL;

-- The head of each (endpoint, subscriber) queue is found through this.
CREATE INDEX outbox_webhook_queue ON outbox (webhook_endpoint_id, ordering_key, id)
    WHERE kind = 'webhook' AND sent_at IS NULL AND dead_at IS NULL;
CREATE INDEX outbox_webhook_deliveries ON outbox (webhook_endpoint_id, id) WHERE kind = 'webhook';

-- Mails sent are in the ledger too; a reminder is sent at most once per subscription.
ALTER TABLE subscription_events DROP CONSTRAINT subscription_events_type_check;
ALTER TABLE subscription_events ADD CONSTRAINT subscription_events_type_check CHECK (type IN
    ('signup', 'confirmation_sent', 'reminder_sent', 'welcome_sent', 'confirmed', 'unsubscribed', 'erased', 'purged'));
ALTER TABLE subscriptions ADD COLUMN reminded_at timestamptz;
CREATE INDEX subscriptions_awaiting_reminder ON subscriptions (consent_at) WHERE status = 'pending' AND reminded_at IS NULL;

-- A welcome mail after confirming, for lists that want one.
ALTER TABLE lists ADD COLUMN welcome boolean NOT NULL DEFAULT false;

-- Every change the ledger records about a subscription becomes a webhook event for each endpoint
-- that asked for it, in the same transaction as the change: no handler can forget one. The
-- payload is fixed now, so a receiver learns the state the event produced. A row trigger whose
-- WHEN clause picks the events that matter: the ledger rows the outbox itself writes (mails
-- sent) never call the function (a statement trigger ran for each of them: 2.5 ms a delivery).
-- AFTER row triggers fire at the end of the statement, so they see everything it changed.
CREATE FUNCTION queue_webhook_event() RETURNS trigger LANGUAGE plpgsql AS $$
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
                   'source', sub.consent_source, 'textVersion', sub.consent_text_version))),
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

CREATE TRIGGER subscription_events_webhooks AFTER INSERT ON subscription_events
    FOR EACH ROW WHEN (NEW.type IN ('signup', 'confirmed', 'unsubscribed') AND NEW.subscription_id IS NOT NULL)
    EXECUTE FUNCTION queue_webhook_event();
