-- One definition of "wipe personal data from the ledger", used by erasure and retention alike.
-- Which ledger columns are personal is said once, on the columns themselves (COMMENT 'personal'):
-- a later migration that adds one (a phone number, say) comments it so, and both paths wipe it
-- without being edited. The function blanks those columns of the given subscriptions' events.
COMMENT ON COLUMN subscription_events.ip IS 'personal';
COMMENT ON COLUMN subscription_events.user_agent IS 'personal';
COMMENT ON COLUMN subscription_events.source IS 'personal';

CREATE FUNCTION wipe_personal_ledger(p_subscription_ids bigint[]) RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
    v_assignments text;
    v_wiped bigint;
BEGIN
    SELECT string_agg(format('%I = NULL', a.attname), ', ' ORDER BY a.attnum) INTO v_assignments
    FROM pg_attribute a
    WHERE a.attrelid = 'subscription_events'::regclass AND a.attnum > 0 AND NOT a.attisdropped
      AND col_description(a.attrelid, a.attnum) = 'personal';
    IF v_assignments IS NULL OR cardinality(p_subscription_ids) = 0 THEN
        RETURN 0;
    END IF;

    EXECUTE format('UPDATE subscription_events SET %s WHERE subscription_id = ANY ($1)', v_assignments) USING p_subscription_ids;
    GET DIAGNOSTICS v_wiped = ROW_COUNT;
    RETURN v_wiped;
END
$$;

-- Lists, complete: a list can be kept off the preference centre (hidden), and archived (no new
-- signups; its subscriptions stay, and stay exportable).
ALTER TABLE lists
    ADD COLUMN hidden boolean NOT NULL DEFAULT false,
    ADD COLUMN archived_at timestamptz;

-- New ledger events: an editor re-queued dead mail ('requeued', the mail's kind as reason), an
-- editor asked for a new confirmation mail ('resend_requested'), a reader changed the language of
-- their mails ('locale_changed'). The type check is extended from whatever it is when this runs
-- rather than restated, so that types added by migrations written beside this one stay allowed.
DO $$
DECLARE
    v_types text[];
BEGIN
    SELECT array_agg(DISTINCT m[1]) INTO v_types
    FROM pg_constraint c, regexp_matches(pg_get_constraintdef(c.oid), '''([a-z_]+)''', 'g') AS m
    WHERE c.conrelid = 'subscription_events'::regclass AND c.conname = 'subscription_events_type_check';
    v_types := v_types || ARRAY['requeued', 'resend_requested', 'locale_changed'];
    ALTER TABLE subscription_events DROP CONSTRAINT subscription_events_type_check;
    EXECUTE format('ALTER TABLE subscription_events ADD CONSTRAINT subscription_events_type_check CHECK (type = ANY (%L::text[]))',
                   (SELECT array_agg(DISTINCT t ORDER BY t) FROM unnest(v_types) AS t));
END
$$;
