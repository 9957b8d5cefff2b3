-- rapport schema, version 5: the consent ledger (PostgreSQL). Runs with `search_path` set to
-- the store's schema.
--
-- One row per entry (grant, withdrawal, pending double opt-in), keyed by tenant first. The
-- entry is kept whole as JSON; `customer_id` and the two times are projections for reading a
-- customer's history in ledger order. A merge moves entries by rewriting `customer_id`;
-- erasure blanks their free text in place. Row-level security as in version 3: only the
-- tenant named by `rapport.tenant` is seen or written.

CREATE TABLE consents (
    tenant_id    uuid        NOT NULL,
    entry_id     uuid        NOT NULL,
    customer_id  uuid        NOT NULL,
    at           timestamptz NOT NULL,
    recorded_at  timestamptz NOT NULL,
    entry_json   text        NOT NULL,
    PRIMARY KEY (tenant_id, entry_id)
);

CREATE INDEX consents_customer ON consents (tenant_id, customer_id, at, recorded_at);

ALTER TABLE consents ENABLE ROW LEVEL SECURITY;
ALTER TABLE consents FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_rows ON consents USING (tenant_id = rapport_tenant())
    WITH CHECK (tenant_id = rapport_tenant());

-- Erasure records: one per erased customer, no personal data (requester is an opaque
-- reference, reason a code).
CREATE TABLE erasures (
    tenant_id    uuid        NOT NULL,
    customer_id  uuid        NOT NULL,
    erased_at    timestamptz NOT NULL,
    record_json  text        NOT NULL,
    PRIMARY KEY (tenant_id, customer_id)
);

ALTER TABLE erasures ENABLE ROW LEVEL SECURITY;
ALTER TABLE erasures FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_rows ON erasures USING (tenant_id = rapport_tenant())
    WITH CHECK (tenant_id = rapport_tenant());
