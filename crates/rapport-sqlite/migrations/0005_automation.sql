-- Automation (#17): actions waiting until they are due, and the log of decided actions
-- (sent, suppressed with the first guard that stopped them, cancelled, dead-lettered).
-- Keys start with the tenant; records are JSON like the other tables.
CREATE TABLE rapport_scheduled_actions (
    tenant_id   BLOB    NOT NULL,
    action_id   BLOB    NOT NULL,
    customer_id BLOB    NOT NULL,
    due_us      INTEGER NOT NULL,
    action_json TEXT    NOT NULL,
    PRIMARY KEY (tenant_id, action_id)
) WITHOUT ROWID;
CREATE INDEX rapport_scheduled_actions_due ON rapport_scheduled_actions (tenant_id, due_us, action_id);
CREATE INDEX rapport_scheduled_actions_customer ON rapport_scheduled_actions (tenant_id, customer_id);

CREATE TABLE rapport_action_log (
    tenant_id   BLOB    NOT NULL,
    action_id   BLOB    NOT NULL,
    customer_id BLOB    NOT NULL,
    at_us       INTEGER NOT NULL,
    outcome     TEXT    NOT NULL,
    record_json TEXT    NOT NULL,
    PRIMARY KEY (tenant_id, action_id)
) WITHOUT ROWID;
CREATE INDEX rapport_action_log_at ON rapport_action_log (tenant_id, at_us, action_id);
CREATE INDEX rapport_action_log_customer ON rapport_action_log (tenant_id, customer_id, at_us);
