-- Purchases and refunds attributed to an account (B2B): a copy of the customer's activity,
-- kept once per (tenant, idempotency key) — the first attribution wins — and read by account
-- in time order. Amounts and kinds only (purchases and refunds carry no free text), so an
-- erasure of the contact leaves the account's aggregates as they were.
CREATE TABLE rapport_account_activities (
    tenant_id       BLOB    NOT NULL,
    idempotency_key TEXT    NOT NULL,
    account_id      BLOB    NOT NULL,
    customer_id     BLOB    NOT NULL,
    at_us           INTEGER NOT NULL,
    activity_json   TEXT    NOT NULL,
    PRIMARY KEY (tenant_id, idempotency_key)
) WITHOUT ROWID;

CREATE INDEX rapport_account_activities_account
    ON rapport_account_activities (tenant_id, account_id, at_us, idempotency_key);
