-- rapport schema, version 6: cases (complaints and service requests).
-- Keyed by tenant first like every table; the full case (status history included) is JSON,
-- with the columns the reads filter on projected beside it.

CREATE TABLE rapport_cases (
    tenant_id    BLOB    NOT NULL,
    case_id      BLOB    NOT NULL,
    customer_id  BLOB    NOT NULL,
    version      INTEGER NOT NULL CHECK (version >= 1),
    status       TEXT    NOT NULL,
    severity     TEXT    NOT NULL,
    opened_at_us INTEGER NOT NULL,
    case_json    TEXT    NOT NULL,
    PRIMARY KEY (tenant_id, case_id)
) WITHOUT ROWID;

CREATE INDEX rapport_cases_customer ON rapport_cases (tenant_id, customer_id, case_id);
CREATE INDEX rapport_cases_open ON rapport_cases (tenant_id, case_id)
    WHERE status IN ('open', 'in_progress', 'waiting_on_customer');
