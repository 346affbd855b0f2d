-- The webhook claim, measured with the harness's webhook scenario (10,000 events a round, six
-- rounds per setting, against the same HttpClient loop): ~0.8 of the loop before, 0.97-1.09 with
-- the first two changes (lower in a round an autovacuum lands in); the third keeps a burst after
-- mail-only statistics from a plan that read every waiting event per claimed row.

-- Room on every page for a row's next version. A claim changes only columns no index names
-- (locked_until, claim), so PostgreSQL can write the claimed version beside the old one without
-- touching the indexes (a HOT update) -- if the page has room. Packed full (fillfactor 100), each
-- claim added an entry to every index holding the row (six for a webhook event): claims took
-- twice as long (2.1 ms for ~40 rows, now 1.0), recording outcomes a quarter longer. Applies to
-- pages written from now on.
ALTER TABLE outbox SET (fillfactor = 50);

-- The admin listing of an endpoint's recent deliveries, by time. On (endpoint, id) this index
-- also answered the claim's "oldest waiting event of this subscriber" look (ORDER BY endpoint,
-- subscriber, id): with a single endpoint the planner at times costed the two alike and walked
-- every event of the endpoint per candidate row (8,000 rows a look; claims of 20-900 ms instead
-- of 1, after an ANALYZE). Ordered by time it cannot serve that look; outbox_webhook_queue can.
DROP INDEX outbox_webhook_deliveries;
CREATE INDEX outbox_webhook_deliveries ON outbox (webhook_endpoint_id, created_at, id) WHERE kind = 'webhook';

-- The head of each (endpoint, subscriber) queue, as before, but found through a predicate no other
-- index has. On "waiting" (sent_at IS NULL AND dead_at IS NULL) the one-waiting-mail index
-- (outbox_waiting, (subscription_id, kind) WHERE waiting) served the claim's look too, and on
-- statistics that knew no webhook rows (an outbox analyzed while it held only mail, then a burst
-- of events) the planner took it and read every waiting event per candidate: 10,000 events took
-- 13.2 s instead of 3-4.5 (the harness's webhook warm-up after its mail rounds). The look now
-- says coalesce(sent_at, dead_at) IS NULL, which PostgreSQL cannot prove outbox_waiting's
-- predicate from, so only this index answers it. (outbox_waiting itself stays as it is: the
-- previous release's ON CONFLICT clauses name its predicate during a rolling upgrade.)
DROP INDEX outbox_webhook_queue;
CREATE INDEX outbox_webhook_queue ON outbox (webhook_endpoint_id, ordering_key, id)
    WHERE kind = 'webhook' AND coalesce(sent_at, dead_at) IS NULL;
