-- rapport schema, version 2 (PostgreSQL): one live customer per normalised email and per phone.
--
-- `email` and `phone` now hold the contacts a customer claims: its own while it is live, NULL
-- once it is a tombstone (merged or erased). Unique partial indexes on them (which include the
-- partition key, `tenant_id`, so they hold on hash-partitioned layouts too) make the store
-- refuse a second live customer with the same contact, whoever wrote first.
--
-- Books written before this version may already hold such duplicates (concurrent writers could
-- create them). The oldest customer of each group (by creation time, then id) keeps the
-- contact; the younger ones keep it in their record and in `unclaimed_email`/`unclaimed_phone`
-- (so lookups by contact still find them, as duplicate candidates to merge), but not in the
-- claiming column: they cannot claim it back until it is released.

ALTER TABLE customers ADD COLUMN unclaimed_email text, ADD COLUMN unclaimed_phone text;

UPDATE customers SET email = NULL, phone = NULL WHERE stage IN ('merged', 'erased');

UPDATE customers AS c SET unclaimed_email = c.email, email = NULL
 WHERE c.email IS NOT NULL
   AND EXISTS (
       SELECT 1 FROM customers AS o
        WHERE o.tenant_id = c.tenant_id
          AND o.email = c.email
          AND (o.created_at, o.customer_id) < (c.created_at, c.customer_id));

UPDATE customers AS c SET unclaimed_phone = c.phone, phone = NULL
 WHERE c.phone IS NOT NULL
   AND EXISTS (
       SELECT 1 FROM customers AS o
        WHERE o.tenant_id = c.tenant_id
          AND o.phone = c.phone
          AND (o.created_at, o.customer_id) < (c.created_at, c.customer_id));

DROP INDEX customers_email;
DROP INDEX customers_phone;
CREATE UNIQUE INDEX customers_email ON customers (tenant_id, email) WHERE email IS NOT NULL;
CREATE UNIQUE INDEX customers_phone ON customers (tenant_id, phone) WHERE phone IS NOT NULL;
CREATE INDEX customers_unclaimed_email ON customers (tenant_id, unclaimed_email)
    WHERE unclaimed_email IS NOT NULL;
CREATE INDEX customers_unclaimed_phone ON customers (tenant_id, unclaimed_phone)
    WHERE unclaimed_phone IS NOT NULL;
