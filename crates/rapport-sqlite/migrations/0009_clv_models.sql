-- rapport schema: each tenant's fitted CLV model (issue #20). One row per tenant: the model
-- with the latest fitted_at (µs since the epoch), as JSON (model kind, parameters, spend
-- model, period, discount, fitted_at).
CREATE TABLE rapport_clv_models (
    tenant_id    BLOB    NOT NULL PRIMARY KEY,
    fitted_at_us INTEGER NOT NULL,
    model_json   TEXT    NOT NULL
) WITHOUT ROWID;
