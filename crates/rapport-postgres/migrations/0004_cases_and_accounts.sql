-- rapport schema, version 4: cases (complaints and service requests). Runs with
-- `search_path` set to the store's schema.
--
-- Keyed by tenant first; the full case (status history included) as JSON text, with the
-- columns the reads filter on projected beside it. Row-level security as in migration 3:
-- only the rows of the tenant named by `rapport.tenant` are visible or writable.

CREATE TABLE cases (
    tenant_id   uuid        NOT NULL,
    case_id     uuid        NOT NULL,
    customer_id uuid        NOT NULL,
    version     bigint      NOT NULL CHECK (version >= 1),
    status      text        NOT NULL,
    severity    text        NOT NULL,
    opened_at   timestamptz NOT NULL,
    case_json   text        NOT NULL,
    PRIMARY KEY (tenant_id, case_id)
);

CREATE INDEX cases_customer ON cases (tenant_id, customer_id, case_id);
CREATE INDEX cases_open ON cases (tenant_id, case_id)
    WHERE status IN ('open', 'in_progress', 'waiting_on_customer');

ALTER TABLE cases ENABLE ROW LEVEL SECURITY;
ALTER TABLE cases FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_rows ON cases USING (tenant_id = rapport_tenant())
    WITH CHECK (tenant_id = rapport_tenant());

-- Accounts (B2B) and the links of people to them. A link is stored by (account, customer)
-- and replaced as a whole; the account's version guards its links (a changeset writing a
-- link writes its account too).
CREATE TABLE accounts (
    tenant_id    uuid   NOT NULL,
    account_id   uuid   NOT NULL,
    parent_id    uuid,
    version      bigint NOT NULL CHECK (version >= 1),
    account_json text   NOT NULL,
    PRIMARY KEY (tenant_id, account_id)
);

CREATE INDEX accounts_parent ON accounts (tenant_id, parent_id) WHERE parent_id IS NOT NULL;

CREATE TABLE account_links (
    tenant_id   uuid NOT NULL,
    account_id  uuid NOT NULL,
    customer_id uuid NOT NULL,
    link_json   text NOT NULL,
    PRIMARY KEY (tenant_id, account_id, customer_id)
);

CREATE INDEX account_links_customer ON account_links (tenant_id, customer_id, account_id);

ALTER TABLE accounts ENABLE ROW LEVEL SECURITY;
ALTER TABLE accounts FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_rows ON accounts USING (tenant_id = rapport_tenant())
    WITH CHECK (tenant_id = rapport_tenant());
ALTER TABLE account_links ENABLE ROW LEVEL SECURITY;
ALTER TABLE account_links FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_rows ON account_links USING (tenant_id = rapport_tenant())
    WITH CHECK (tenant_id = rapport_tenant());
