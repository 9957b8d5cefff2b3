-- Purchases and refunds attributed to an account (B2B): a copy of the customer's activity,
-- kept once per (tenant, idempotency key) — the first attribution wins — and read by account
-- in time order. Amounts and kinds only (purchases and refunds carry no free text), so an
-- erasure of the contact leaves the account's aggregates as they were.
CREATE TABLE account_activities (
    tenant_id       uuid        NOT NULL,
    idempotency_key text        COLLATE "C" NOT NULL,
    account_id      uuid        NOT NULL,
    customer_id     uuid        NOT NULL,
    at              timestamptz NOT NULL,
    activity_json   text        NOT NULL,
    PRIMARY KEY (tenant_id, idempotency_key)
);

CREATE INDEX account_activities_account
    ON account_activities (tenant_id, account_id, at, idempotency_key);

ALTER TABLE account_activities ENABLE ROW LEVEL SECURITY;
ALTER TABLE account_activities FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_rows ON account_activities USING (tenant_id = rapport_tenant())
    WITH CHECK (tenant_id = rapport_tenant());
