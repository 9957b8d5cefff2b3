-- rapport schema, version 6 (#17): automation's scheduled actions and action log. Runs with
-- `search_path` set to the store's schema. Keys start with the tenant; row-level security
-- like migration 0003 (`tenant_id = rapport_tenant()`, forced for the owner too).
CREATE TABLE scheduled_actions (
    tenant_id   uuid        NOT NULL,
    action_id   uuid        NOT NULL,
    customer_id uuid        NOT NULL,
    due         timestamptz NOT NULL,
    action_json text        NOT NULL,
    PRIMARY KEY (tenant_id, action_id)
);
CREATE INDEX scheduled_actions_due ON scheduled_actions (tenant_id, due, action_id);
CREATE INDEX scheduled_actions_customer ON scheduled_actions (tenant_id, customer_id);

CREATE TABLE action_log (
    tenant_id   uuid        NOT NULL,
    action_id   uuid        NOT NULL,
    customer_id uuid        NOT NULL,
    at          timestamptz NOT NULL,
    outcome     text        NOT NULL,
    record_json text        NOT NULL,
    PRIMARY KEY (tenant_id, action_id)
);
CREATE INDEX action_log_at ON action_log (tenant_id, at, action_id);
CREATE INDEX action_log_customer ON action_log (tenant_id, customer_id, at);

ALTER TABLE scheduled_actions ENABLE ROW LEVEL SECURITY;
ALTER TABLE scheduled_actions FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_rows ON scheduled_actions
    USING (tenant_id = rapport_tenant()) WITH CHECK (tenant_id = rapport_tenant());
ALTER TABLE action_log ENABLE ROW LEVEL SECURITY;
ALTER TABLE action_log FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_rows ON action_log
    USING (tenant_id = rapport_tenant()) WITH CHECK (tenant_id = rapport_tenant());
