-- rapport schema, version 2: one live customer per normalised email and per phone.
--
-- `email` and `phone` now hold the contacts a customer claims: its own while it is live, NULL
-- once it is a tombstone (merged or erased). Unique partial indexes on them make the store
-- refuse a second live customer with the same contact, whoever wrote first.
--
-- Books written before this version may already hold such duplicates (concurrent writers could
-- create them). The oldest customer of each group (by creation time, then id) keeps the
-- contact; the younger ones keep it in their record and in `unclaimed_email`/`unclaimed_phone`
-- (so lookups by contact still find them, as duplicate candidates to merge), but not in the
-- claiming column: they cannot claim it back until it is released.

ALTER TABLE rapport_customers ADD COLUMN unclaimed_email TEXT;
ALTER TABLE rapport_customers ADD COLUMN unclaimed_phone TEXT;

UPDATE rapport_customers SET email = NULL, phone = NULL
 WHERE stage IN ('merged', 'erased');

UPDATE rapport_customers SET unclaimed_email = email, email = NULL
 WHERE email IS NOT NULL
   AND EXISTS (
       SELECT 1 FROM rapport_customers AS o
        WHERE o.tenant_id = rapport_customers.tenant_id
          AND o.email = rapport_customers.email
          AND (o.created_at_us < rapport_customers.created_at_us
               OR (o.created_at_us = rapport_customers.created_at_us
                   AND o.customer_id < rapport_customers.customer_id)));

UPDATE rapport_customers SET unclaimed_phone = phone, phone = NULL
 WHERE phone IS NOT NULL
   AND EXISTS (
       SELECT 1 FROM rapport_customers AS o
        WHERE o.tenant_id = rapport_customers.tenant_id
          AND o.phone = rapport_customers.phone
          AND (o.created_at_us < rapport_customers.created_at_us
               OR (o.created_at_us = rapport_customers.created_at_us
                   AND o.customer_id < rapport_customers.customer_id)));

DROP INDEX rapport_customers_email;
DROP INDEX rapport_customers_phone;
CREATE UNIQUE INDEX rapport_customers_email ON rapport_customers (tenant_id, email) WHERE email IS NOT NULL;
CREATE UNIQUE INDEX rapport_customers_phone ON rapport_customers (tenant_id, phone) WHERE phone IS NOT NULL;
CREATE INDEX rapport_customers_unclaimed_email ON rapport_customers (tenant_id, unclaimed_email)
    WHERE unclaimed_email IS NOT NULL;
CREATE INDEX rapport_customers_unclaimed_phone ON rapport_customers (tenant_id, unclaimed_phone)
    WHERE unclaimed_phone IS NOT NULL;
