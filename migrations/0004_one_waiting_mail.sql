-- A subscription has at most one confirmation mail waiting to be sent. Signups enqueue with
-- ON CONFLICT DO NOTHING against this index instead of looking for a waiting row first: that
-- look was planned through outbox_due and so read the whole unsent backlog on every signup
-- (14,486 rows, 32 ms, once the dispatcher fell behind) - just when SMTP is down, say.
CREATE UNIQUE INDEX outbox_waiting ON outbox (subscription_id) WHERE sent_at IS NULL AND dead_at IS NULL;
