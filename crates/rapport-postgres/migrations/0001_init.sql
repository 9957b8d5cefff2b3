-- rapport schema, version 1 (PostgreSQL). Runs with `search_path` set to the store's schema,
-- so the names below are created there.
-- Every table is keyed by tenant first: no row can be read or written without its tenant, and
-- the tables distribute by `tenant_id` on Citus-style engines.
-- Ids are `uuid`, times `timestamptz` (microseconds), money `NUMERIC` (scale kept). The full
-- records are kept as canonical JSON `text` (byte-exact, money inside as decimal text); the
-- other columns are projections for lookups and queries.

CREATE TABLE customers (
    tenant_id          uuid        NOT NULL,
    customer_id        uuid        NOT NULL,
    version            bigint      NOT NULL CHECK (version >= 1),
    stage              text        NOT NULL,
    tier               text        NOT NULL,
    merged_into        uuid,
    created_at         timestamptz NOT NULL,
    -- Normalised contact keys (NULL when absent or erased), for find_by_contact.
    email              text,
    phone              text,
    orders             bigint      NOT NULL DEFAULT 0,
    purchase_days      bigint      NOT NULL DEFAULT 0,
    revenue            numeric     NOT NULL DEFAULT 0,
    last_purchase_day  date,
    first_purchase_day date,
    customer_json      text        NOT NULL,
    stats_json         text        NOT NULL,
    PRIMARY KEY (tenant_id, customer_id)
);

CREATE INDEX customers_email ON customers (tenant_id, email) WHERE email IS NOT NULL;
CREATE INDEX customers_phone ON customers (tenant_id, phone) WHERE phone IS NOT NULL;

CREATE TABLE activities (
    tenant_id       uuid        NOT NULL,
    -- Byte order, as every store orders a timeline: (time, key).
    idempotency_key text        COLLATE "C" NOT NULL,
    activity_id     uuid        NOT NULL,
    customer_id     uuid        NOT NULL,
    at              timestamptz NOT NULL,
    kind            text        NOT NULL,
    amount          numeric,             -- purchases and refunds
    activity_json   text        NOT NULL,
    PRIMARY KEY (tenant_id, idempotency_key)
);

CREATE INDEX activities_customer ON activities (tenant_id, customer_id, at);

CREATE TABLE outbox (
    tenant_id    uuid        NOT NULL,
    message_id   uuid        NOT NULL,
    seq          bigint      GENERATED ALWAYS AS IDENTITY, -- insertion order, for fair claiming
    occurred_at  timestamptz NOT NULL,
    attempts     integer     NOT NULL DEFAULT 0,
    available_at timestamptz NOT NULL DEFAULT '-infinity', -- not claimable before (lease or back-off)
    message_json text        NOT NULL,
    PRIMARY KEY (tenant_id, message_id)
);

CREATE INDEX outbox_available ON outbox (available_at, seq);
CREATE INDEX outbox_message ON outbox (message_id);
