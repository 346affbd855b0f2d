-- Two changes measured with the harness's webhook scenario (10,000 events, six rounds per setting,
-- against the same HttpClient loop): the service delivered ~0.8 of the loop with neither (0.4 in
-- rounds where the plan below went wrong), 0.97-1.09 with both (lower in a round autovacuum lands in).

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
