-- rapport schema, version 1.
-- Every table is keyed by tenant first: no row can be read or written without its tenant.
-- Ids are 16-byte BLOBs (UUID big-endian), times are INTEGER UTC microseconds, money is
-- canonical decimal TEXT with its scale kept (see docs/adr/002-money-representation.md).

CREATE TABLE rapport_customers (
    tenant_id     BLOB    NOT NULL,
    customer_id   BLOB    NOT NULL,
    version       INTEGER NOT NULL CHECK (version >= 1),
    stage         TEXT    NOT NULL,
    tier          TEXT    NOT NULL,
    merged_into   BLOB,
    created_at_us INTEGER NOT NULL,
    -- Normalised contact keys (NULL when absent or erased), for find_by_contact.
    email         TEXT,
    phone         TEXT,
    -- Projections of the stats for segment queries compiled to SQL (a prefilter; the exact
    -- predicate is re-checked on the decoded rows).
    orders        INTEGER NOT NULL DEFAULT 0,
    purchase_days INTEGER NOT NULL DEFAULT 0,
    revenue_num   REAL    NOT NULL DEFAULT 0,
    last_purchase_day INTEGER,           -- days since 1970-01-01, UTC
    first_purchase_day INTEGER,
    -- The full records, as JSON (money as decimal text, scale kept).
    customer_json TEXT    NOT NULL,
    stats_json    TEXT    NOT NULL,
    -- A rowid table (rows are larger than WITHOUT ROWID suits); the key is this unique index.
    UNIQUE (tenant_id, customer_id)
);

CREATE INDEX rapport_customers_email ON rapport_customers (tenant_id, email) WHERE email IS NOT NULL;
CREATE INDEX rapport_customers_phone ON rapport_customers (tenant_id, phone) WHERE phone IS NOT NULL;

CREATE TABLE rapport_activities (
    tenant_id       BLOB    NOT NULL,
    idempotency_key TEXT    NOT NULL,
    activity_id     BLOB    NOT NULL,
    customer_id     BLOB    NOT NULL,
    at_us           INTEGER NOT NULL,
    kind            TEXT    NOT NULL,
    activity_json   TEXT    NOT NULL,
    UNIQUE (tenant_id, idempotency_key)
);

CREATE INDEX rapport_activities_customer ON rapport_activities (tenant_id, customer_id, at_us);

CREATE TABLE rapport_outbox (
    tenant_id      BLOB    NOT NULL,
    message_id     BLOB    NOT NULL,
    seq            INTEGER NOT NULL,         -- commit order, for fair claiming
    occurred_at_us INTEGER NOT NULL,
    attempts       INTEGER NOT NULL DEFAULT 0,
    available_at_us INTEGER NOT NULL,        -- not claimable before (lease end or back-off)
    message_json   TEXT    NOT NULL,
    PRIMARY KEY (tenant_id, message_id)
) WITHOUT ROWID;

CREATE INDEX rapport_outbox_available ON rapport_outbox (available_at_us, seq);
CREATE INDEX rapport_outbox_message ON rapport_outbox (message_id);
