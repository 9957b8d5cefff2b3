-- rapport schema: merge records (issue #15). One row per merge: who, when, the preview
-- applied and both customers' prior state (JSON), and when it was undone. Keyed by tenant.
CREATE TABLE rapport_merges (
    tenant_id    BLOB    NOT NULL,
    merge_id     BLOB    NOT NULL,
    survivor_id  BLOB    NOT NULL,
    loser_id     BLOB    NOT NULL,
    at_us        INTEGER NOT NULL,
    undone_at_us INTEGER,
    record_json  TEXT    NOT NULL,
    PRIMARY KEY (tenant_id, merge_id)
) WITHOUT ROWID;

CREATE INDEX rapport_merges_loser ON rapport_merges (tenant_id, loser_id);

-- Pairs the host marked "not a duplicate", with a fingerprint of both customers' contact
-- keys when marked (a changed key proposes the pair again).
CREATE TABLE rapport_distinct_pairs (
    tenant_id BLOB    NOT NULL,
    first_id  BLOB    NOT NULL,
    second_id BLOB    NOT NULL,
    stamp     INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, first_id, second_id)
) WITHOUT ROWID;
