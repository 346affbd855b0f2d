-- Each outbox row carries the W3C trace context (traceparent) of what wrote it, so that its
-- delivery's span joins that trace: a signup's request -> its confirmation mail's delivery.
-- The column's default reads the transaction-local setting subscriptions.traceparent, which a
-- statement sets (set_config(..., true)) when a trace is active: so every insert gets it, the
-- ledger trigger's webhook events (queue_webhook_event, which cannot see the .NET span) as much as
-- the statements' own mails, with no column list to remember. Unset (no tracing): NULL. Not
-- personal data: two random ids and a flag.
ALTER TABLE outbox ADD COLUMN traceparent text
    DEFAULT nullif(current_setting('subscriptions.traceparent', true), '');
