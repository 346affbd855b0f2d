-- Lists a news site can offer; 'news' is the default list a signup without a choice joins.
CREATE TABLE lists (
    id                   integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    slug                 text NOT NULL UNIQUE CHECK (slug ~ '^[a-z0-9][a-z0-9-]{0,62}$'),
    name                 text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    sender_name          text,
    sender_email         text,
    thank_you_url        text,
    confirmed_url        text,
    error_url            text,
    allowed_origins      text[] NOT NULL DEFAULT '{}',
    consent_text         text NOT NULL,
    consent_text_version text NOT NULL,
    default_locale       text NOT NULL DEFAULT 'en',
    created_at           timestamptz NOT NULL DEFAULT now(),
    updated_at           timestamptz NOT NULL DEFAULT now()
);

INSERT INTO lists (slug, name, consent_text, consent_text_version)
VALUES ('news', 'News', 'By submitting this form, I agree to the terms.', '1');

-- One row per mailbox: email is the normalized address (NFC, lower case, punycode domain)
-- and decides uniqueness; email_as_typed keeps what the person wrote, for the mail's To.
CREATE TABLE subscribers (
    id             bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    email          text NOT NULL UNIQUE CHECK (length(email) <= 254 AND email = lower(email)),
    email_as_typed text NOT NULL,
    name           text CHECK (length(name) <= 200),
    locale         text CHECK (length(locale) <= 35),
    created_at     timestamptz NOT NULL,
    updated_at     timestamptz NOT NULL
);

-- A subscriber on a list, with the consent evidence of the signup that is (to be) confirmed.
CREATE TABLE subscriptions (
    id                   bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    subscriber_id        bigint NOT NULL REFERENCES subscribers (id) ON DELETE CASCADE,
    list_id              integer NOT NULL REFERENCES lists (id),
    status               text NOT NULL CHECK (status IN ('pending', 'confirmed', 'unsubscribed')),
    created_at           timestamptz NOT NULL,
    updated_at           timestamptz NOT NULL,
    confirmed_at         timestamptz,
    unsubscribed_at      timestamptz,
    consent_at           timestamptz NOT NULL,
    consent_ip           inet,
    consent_user_agent   text,
    consent_source       text,
    consent_text_version text NOT NULL,
    UNIQUE (subscriber_id, list_id),
    CHECK (status <> 'confirmed' OR confirmed_at IS NOT NULL),
    CHECK (status <> 'unsubscribed' OR unsubscribed_at IS NOT NULL)
);

CREATE INDEX subscriptions_list_status ON subscriptions (list_id, status);

-- Append-only ledger: the proof of consent a regulator asks for. Rows are never deleted;
-- erasure (a later migration's concern) blanks their personal fields.
CREATE TABLE subscription_events (
    id                   bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    subscription_id      bigint REFERENCES subscriptions (id) ON DELETE SET NULL,
    list_id              integer NOT NULL REFERENCES lists (id),
    type                 text NOT NULL CHECK (type IN
                             ('signup', 'confirmation_sent', 'confirmed', 'unsubscribed', 'erased', 'purged')),
    occurred_at          timestamptz NOT NULL,
    ip                   inet,
    user_agent           text,
    source               text,
    consent_text_version text
);

CREATE INDEX subscription_events_subscription ON subscription_events (subscription_id);

-- Mail to send, written in the same transaction as the change that asks for it.
CREATE TABLE outbox (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    subscription_id bigint NOT NULL REFERENCES subscriptions (id) ON DELETE CASCADE,
    kind            text NOT NULL CHECK (kind IN ('confirmation')),
    created_at      timestamptz NOT NULL,
    due_at          timestamptz NOT NULL,
    attempts        integer NOT NULL DEFAULT 0,
    locked_until    timestamptz,
    sent_at         timestamptz,
    dead_at         timestamptz,
    last_error      text
);

CREATE INDEX outbox_due ON outbox (due_at) WHERE sent_at IS NULL AND dead_at IS NULL;
