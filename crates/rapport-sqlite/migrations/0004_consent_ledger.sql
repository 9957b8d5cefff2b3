-- rapport schema, version 4: the consent ledger.
--
-- One row per entry (grant, withdrawal, pending double opt-in), keyed by tenant first. The
-- entry is kept whole as JSON; `customer_id` and the two times are projections for reading a
-- customer's history in ledger order. A merge moves entries by rewriting `customer_id`;
-- erasure blanks their free text in place.

CREATE TABLE rapport_consents (
    tenant_id      BLOB    NOT NULL,
    entry_id       BLOB    NOT NULL,
    customer_id    BLOB    NOT NULL,
    at_us          INTEGER NOT NULL,
    recorded_at_us INTEGER NOT NULL,
    entry_json     TEXT    NOT NULL,
    PRIMARY KEY (tenant_id, entry_id)
) WITHOUT ROWID;

CREATE INDEX rapport_consents_customer
    ON rapport_consents (tenant_id, customer_id, at_us, recorded_at_us);

-- Erasure records: one per erased customer, no personal data (requester is an opaque
-- reference, reason a code).
CREATE TABLE rapport_erasures (
    tenant_id     BLOB    NOT NULL,
    customer_id   BLOB    NOT NULL,
    erased_at_us  INTEGER NOT NULL,
    record_json   TEXT    NOT NULL,
    PRIMARY KEY (tenant_id, customer_id)
) WITHOUT ROWID;
