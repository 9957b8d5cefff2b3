-- Pending outbox messages of one customer, found without reading the whole outbox: an
-- erasure deletes them (`DELETE ... WHERE tenant_id = ? AND json_extract(message_json,
-- '$.event.customer') = ?`, the indexed expression word for word). Before this index the
-- statement read every message of the tenant, so an erasure cost grew with the outbox.
CREATE INDEX rapport_outbox_customer
    ON rapport_outbox (tenant_id, json_extract(message_json, '$.event.customer'));
