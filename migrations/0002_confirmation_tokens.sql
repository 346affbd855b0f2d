-- Links in mails carry a random token; only its SHA-256 is kept, with its expiry. A token is
-- minted when its mail is sent, so a raw token never rests in the database.
CREATE TABLE tokens (
    hash            bytea PRIMARY KEY CHECK (length(hash) = 32),
    subscription_id bigint NOT NULL REFERENCES subscriptions (id) ON DELETE CASCADE,
    purpose         text NOT NULL CHECK (purpose IN ('confirm')),
    created_at      timestamptz NOT NULL,
    expires_at      timestamptz NOT NULL,
    used_at         timestamptz
);

CREATE INDEX tokens_subscription ON tokens (subscription_id);

-- The language the mail is written in, chosen at signup (locale field, Accept-Language, list).
ALTER TABLE outbox ADD COLUMN locale text NOT NULL DEFAULT 'en';

-- Repeat signups look up the address's recent confirmation mails to throttle them.
CREATE INDEX outbox_subscription ON outbox (subscription_id, created_at);
