-- Secrets the service derives links and keyed hashes from, created once by the first instance
-- that needs them, so that every instance agrees.
CREATE TABLE service_keys (
    name       text PRIMARY KEY,
    key        bytea NOT NULL CHECK (length(key) >= 32),
    created_at timestamptz NOT NULL DEFAULT now()
);

-- What is left of an erased person: a keyed hash of the normalized address (so a repeat request
-- can be recognized) and the time. Nothing that reveals the address.
CREATE TABLE erasures (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    address_hash bytea NOT NULL,
    erased_at    timestamptz NOT NULL
);

-- Export filters and stats.
CREATE INDEX subscriptions_updated_at ON subscriptions (updated_at);
CREATE INDEX subscription_events_type_time ON subscription_events (type, occurred_at);
