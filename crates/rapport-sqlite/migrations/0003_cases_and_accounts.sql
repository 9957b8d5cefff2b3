-- rapport schema, version 3: cases (complaints and service requests).
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

-- Accounts (B2B) and the links of people to them. A link is stored by (account, customer)
-- and replaced as a whole; the account's version guards its links (a changeset writing a
-- link writes its account too).
CREATE TABLE rapport_accounts (
    tenant_id    BLOB    NOT NULL,
    account_id   BLOB    NOT NULL,
    parent_id    BLOB,
    version      INTEGER NOT NULL CHECK (version >= 1),
    account_json TEXT    NOT NULL,
    PRIMARY KEY (tenant_id, account_id)
) WITHOUT ROWID;

CREATE INDEX rapport_accounts_parent ON rapport_accounts (tenant_id, parent_id)
    WHERE parent_id IS NOT NULL;

CREATE TABLE rapport_account_links (
    tenant_id   BLOB NOT NULL,
    account_id  BLOB NOT NULL,
    customer_id BLOB NOT NULL,
    link_json   TEXT NOT NULL,
    PRIMARY KEY (tenant_id, account_id, customer_id)
) WITHOUT ROWID;

CREATE INDEX rapport_account_links_customer
    ON rapport_account_links (tenant_id, customer_id, account_id);
