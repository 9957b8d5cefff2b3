-- rapport schema: each tenant's fitted CLV model (issue #20), PostgreSQL. One row per tenant:
-- the model with the latest fitted_at (µs since the epoch), as JSON text. Forced row-level
-- security like every tenant table (migration 3); not partitioned (one row per tenant).
CREATE TABLE clv_models (
    tenant_id    uuid   NOT NULL PRIMARY KEY,
    fitted_at_us bigint NOT NULL,
    model_json   text   NOT NULL
);

ALTER TABLE clv_models ENABLE ROW LEVEL SECURITY;
ALTER TABLE clv_models FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_rows ON clv_models USING (tenant_id = rapport_tenant())
    WITH CHECK (tenant_id = rapport_tenant());
