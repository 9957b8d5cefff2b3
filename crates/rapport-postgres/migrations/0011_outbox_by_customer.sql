-- Pending outbox messages of one customer, found without reading the tenant's whole outbox:
-- an erasure deletes them (`DELETE FROM outbox WHERE tenant_id = $1 AND (message_json::jsonb
-- -> 'event' ->> 'customer') = $2`, the indexed expression word for word). Before this index
-- the statement parsed every message of the tenant as jsonb, so an erasure cost grew with the
-- outbox. SQLite's migration 10 is the same index. On a hash-partitioned outbox the index is
-- created on every partition. `IF NOT EXISTS`: a host with a large outbox may build it
-- beforehand with `CREATE INDEX CONCURRENTLY outbox_customer ...` (not inside a transaction).
CREATE INDEX IF NOT EXISTS outbox_customer
    ON outbox (tenant_id, ((message_json::jsonb -> 'event') ->> 'customer'));
