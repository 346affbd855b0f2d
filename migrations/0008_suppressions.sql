-- Addresses the service never mails again. One active row per normalized address; a lifted row
-- stays (lifted_at), so the list keeps its history. source names who reported it: 'admin', a
-- provider ('postmark', 'mailgun', 'sendgrid', 'ses') or the tool that posted it.
CREATE TABLE suppressions (
    id                bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    email             text NOT NULL CHECK (length(email) <= 254 AND email = lower(email)),
    reason            text NOT NULL CHECK (reason IN ('hard_bounce', 'complaint', 'manual', 'repeated_soft_bounce')),
    source            text NOT NULL CHECK (length(source) BETWEEN 1 AND 100),
    -- the provider's id of the event that caused it (idempotency: one event suppresses once)
    provider_event_id text CHECK (length(provider_event_id) <= 500),
    -- the mail the report is about, when the provider echoed X-Subscriptions-Outbox-Id
    outbox_id         bigint,
    suppressed_at     timestamptz NOT NULL,
    lifted_at         timestamptz
);

CREATE UNIQUE INDEX suppressions_active ON suppressions (email) WHERE lifted_at IS NULL;
CREATE UNIQUE INDEX suppressions_event ON suppressions (source, provider_event_id);

-- Every bounce and complaint a provider reported about a known address: a repeated event is
-- recognized by its id, and soft bounces are counted against Bounces__SoftBounceLimit.
CREATE TABLE bounce_events (
    provider    text NOT NULL,
    event_id    text NOT NULL CHECK (length(event_id) <= 500),
    email       text NOT NULL,
    kind        text NOT NULL CHECK (kind IN ('hard_bounce', 'soft_bounce', 'complaint')),
    outbox_id   bigint,
    occurred_at timestamptz NOT NULL,
    -- the 7 days of the soft bounce limit count from here: a provider's own time may be late or old
    received_at timestamptz NOT NULL,
    PRIMARY KEY (provider, event_id)
);

CREATE INDEX bounce_events_soft ON bounce_events (email, received_at) WHERE kind = 'soft_bounce';

-- Signed requests' one-time values (Mailgun's token): a request is accepted once.
CREATE TABLE bounce_webhook_nonces (
    provider text NOT NULL,
    nonce    text NOT NULL CHECK (length(nonce) <= 200),
    seen_at  timestamptz NOT NULL,
    PRIMARY KEY (provider, nonce)
);

-- An erased address that was suppressed stays blocked through its keyed hash: a replayed form
-- cannot make the service mail an erased complainer again.
ALTER TABLE erasures ADD COLUMN suppression_reason text;
CREATE INDEX erasures_address_hash ON erasures (address_hash);

-- The ledger records suppressions and their lifting, with the reason.
ALTER TABLE subscription_events DROP CONSTRAINT subscription_events_type_check;
ALTER TABLE subscription_events ADD CONSTRAINT subscription_events_type_check CHECK (type IN
    ('signup', 'confirmation_sent', 'reminder_sent', 'welcome_sent', 'confirmed', 'unsubscribed', 'erased', 'purged',
     'suppressed', 'suppression_lifted'));
ALTER TABLE subscription_events ADD COLUMN reason text CHECK (length(reason) <= 100);

-- Whether the service may mail an address: not while it is on the list, nor when it was erased
-- while on it. Signup asks this in its one statement.
CREATE FUNCTION address_suppressed(p_email text, p_address_hash bytea) RETURNS boolean LANGUAGE sql STABLE AS $$
    SELECT EXISTS (SELECT FROM suppressions WHERE email = p_email AND lifted_at IS NULL)
        OR EXISTS (SELECT FROM erasures WHERE address_hash = p_address_hash AND suppression_reason IS NOT NULL)
$$;

-- Puts an address on the list, once: the admin API and the provider webhooks alike. In the
-- caller's transaction, with the change: a complaint unsubscribes every subscription of the
-- address (the ledger's 'unsubscribed' rows tell the webhook endpoints, as any unsubscribe
-- does); every subscription gets a 'suppressed' ledger row with the reason; the endpoints
-- that asked for subscriber.suppressed hear of it once per subscriber. A bounce leaves the
-- subscriptions as they are (the export flags them). Returns the new row's id, or NULL when the
-- address was already suppressed or the event was seen before.
CREATE FUNCTION suppress_address(p_email text, p_reason text, p_source text, p_event_id text, p_outbox_id bigint, p_now timestamptz)
RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
    v_id bigint;
    v_subscriber bigint;
BEGIN
    INSERT INTO suppressions (email, reason, source, provider_event_id, outbox_id, suppressed_at)
    VALUES (p_email, p_reason, p_source, p_event_id, p_outbox_id, p_now)
    ON CONFLICT DO NOTHING
    RETURNING id INTO v_id;
    IF v_id IS NULL AND p_reason = 'complaint' THEN
        -- a complaint about an address a bounce suppressed still ends its subscriptions
        UPDATE suppressions SET reason = 'complaint'
        WHERE email = p_email AND lifted_at IS NULL AND reason <> 'complaint'
          AND NOT EXISTS (SELECT FROM suppressions WHERE source = p_source AND provider_event_id = p_event_id)
        RETURNING id INTO v_id;
    END IF;

    IF v_id IS NULL THEN
        RETURN NULL;
    END IF;

    SELECT id INTO v_subscriber FROM subscribers WHERE email = p_email FOR UPDATE;
    IF v_subscriber IS NULL THEN
        RETURN v_id;
    END IF;

    IF p_reason = 'complaint' THEN
        WITH ended AS (
            UPDATE subscriptions SET status = 'unsubscribed', unsubscribed_at = p_now, updated_at = p_now
            WHERE subscriber_id = v_subscriber AND status <> 'unsubscribed'
            RETURNING id, list_id
        )
        INSERT INTO subscription_events (subscription_id, list_id, type, occurred_at, reason)
        SELECT id, list_id, 'unsubscribed', p_now, p_reason FROM ended ORDER BY id;
    END IF;

    INSERT INTO subscription_events (subscription_id, list_id, type, occurred_at, source, reason)
    SELECT id, list_id, 'suppressed', p_now, p_source, p_reason FROM subscriptions WHERE subscriber_id = v_subscriber ORDER BY id;

    INSERT INTO outbox (kind, webhook_endpoint_id, ordering_key, payload, created_at, due_at)
    SELECT 'webhook', w.id, v_subscriber,
           jsonb_build_object('type', 'subscriber.suppressed', 'timestamp', p_now, 'data', jsonb_build_object(
               'email', s.email_as_typed, 'reason', p_reason, 'source', p_source, 'lists', their.slugs)),
           p_now, p_now
    FROM subscribers s
    CROSS JOIN (SELECT coalesce(array_agg(l.slug ORDER BY l.slug), '{}') AS slugs
                FROM subscriptions sub JOIN lists l ON l.id = sub.list_id WHERE sub.subscriber_id = v_subscriber) their
    JOIN webhook_endpoints w ON w.disabled_at IS NULL AND 'subscriber.suppressed' = ANY (w.events)
                            AND (cardinality(w.lists) = 0 OR w.lists && their.slugs)
    WHERE s.id = v_subscriber
    ORDER BY w.id;
    RETURN v_id;
END
$$;

-- A provider's report about an address: recorded once per event id, for a known address only
-- (an unknown one is acknowledged and forgotten). A hard bounce or a complaint suppresses at
-- once; soft bounces do when p_soft_limit of them came within the last 7 days. Returns what
-- became of it: 'unknown', 'duplicate', 'recorded' or 'suppressed'.
CREATE FUNCTION record_bounce(p_provider text, p_event_id text, p_email text, p_kind text, p_outbox_id bigint,
                              p_occurred_at timestamptz, p_now timestamptz, p_soft_limit integer)
RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    v_reason text;
BEGIN
    IF NOT EXISTS (SELECT FROM subscribers WHERE email = p_email) THEN
        RETURN 'unknown';
    END IF;

    INSERT INTO bounce_events (provider, event_id, email, kind, outbox_id, occurred_at, received_at)
    VALUES (p_provider, p_event_id, p_email, p_kind, p_outbox_id, p_occurred_at, p_now)
    ON CONFLICT DO NOTHING;
    IF NOT FOUND THEN
        RETURN 'duplicate';
    END IF;

    v_reason := CASE p_kind
        WHEN 'hard_bounce' THEN 'hard_bounce'
        WHEN 'complaint' THEN 'complaint'
        ELSE CASE WHEN (SELECT count(*) FROM bounce_events
                        WHERE email = p_email AND kind = 'soft_bounce' AND received_at > p_now - interval '7 days') >= p_soft_limit
                  THEN 'repeated_soft_bounce' END
    END;
    IF v_reason IS NULL THEN
        RETURN 'recorded';
    END IF;

    RETURN CASE WHEN suppress_address(p_email, v_reason, p_provider, p_provider || ':' || p_event_id, p_outbox_id, p_now) IS NULL
                THEN 'recorded' ELSE 'suppressed' END;
END
$$;
