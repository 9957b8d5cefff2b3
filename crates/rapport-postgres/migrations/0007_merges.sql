-- rapport schema: merge records (issue #15), PostgreSQL. One row per merge: who, when, the
-- preview applied and both customers' prior state (JSON text), and when it was undone.
-- Keyed by tenant, with forced row-level security like every tenant table (migration 3).
-- Not partitioned on a hash-partitioned layout: merges are rare next to activities.
CREATE TABLE merges (
    tenant_id   uuid        NOT NULL,
    merge_id    uuid        NOT NULL,
    survivor_id uuid        NOT NULL,
    loser_id    uuid        NOT NULL,
    at          timestamptz NOT NULL,
    undone_at   timestamptz,
    record_json text        NOT NULL,
    PRIMARY KEY (tenant_id, merge_id)
);

CREATE INDEX merges_loser ON merges (tenant_id, loser_id);

ALTER TABLE merges ENABLE ROW LEVEL SECURITY;
ALTER TABLE merges FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_rows ON merges USING (tenant_id = rapport_tenant())
    WITH CHECK (tenant_id = rapport_tenant());

-- Pairs the host marked "not a duplicate", with a fingerprint of both customers' contact
-- keys when marked (a changed key proposes the pair again).
CREATE TABLE distinct_pairs (
    tenant_id uuid   NOT NULL,
    first_id  uuid   NOT NULL,
    second_id uuid   NOT NULL,
    stamp     bigint NOT NULL,
    PRIMARY KEY (tenant_id, first_id, second_id)
);

ALTER TABLE distinct_pairs ENABLE ROW LEVEL SECURITY;
ALTER TABLE distinct_pairs FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_rows ON distinct_pairs USING (tenant_id = rapport_tenant())
    WITH CHECK (tenant_id = rapport_tenant());
