-- rapport schema, version 9: line items of purchases and refunds (PostgreSQL). Runs with
-- `search_path` set to the store's schema.
--
-- One row per activity, the lines kept whole as JSON (money as decimal text with its scale),
-- written in the transaction of their activity. `customer_id` follows the activity when a
-- merge moves it (the JSON's customer is ignored on read). Row-level security as in
-- version 3: only the tenant named by `rapport.tenant` is seen or written.

CREATE TABLE line_items (
    tenant_id    uuid        NOT NULL,
    activity_id  uuid        NOT NULL,
    customer_id  uuid        NOT NULL,
    at           timestamptz NOT NULL,
    lines_json   text        NOT NULL,
    PRIMARY KEY (tenant_id, activity_id)
);

CREATE INDEX line_items_customer ON line_items (tenant_id, customer_id, at);

ALTER TABLE line_items ENABLE ROW LEVEL SECURITY;
ALTER TABLE line_items FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_rows ON line_items USING (tenant_id = rapport_tenant())
    WITH CHECK (tenant_id = rapport_tenant());
