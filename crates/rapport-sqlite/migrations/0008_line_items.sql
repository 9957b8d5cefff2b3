-- rapport schema, version 8: line items of purchases and refunds, one row per activity
-- (the lines as JSON, money as decimal text with its scale), written in the changeset of
-- their activity. `customer_id` follows the activity when a merge moves it (the JSON's
-- customer is ignored on read).
CREATE TABLE rapport_line_items (
    tenant_id   BLOB    NOT NULL,
    activity_id BLOB    NOT NULL,
    customer_id BLOB    NOT NULL,
    at_us       INTEGER NOT NULL,
    lines_json  TEXT    NOT NULL,
    PRIMARY KEY (tenant_id, activity_id)
) WITHOUT ROWID;

CREATE INDEX rapport_line_items_customer ON rapport_line_items (tenant_id, customer_id, at_us);
