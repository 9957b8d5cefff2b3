-- rapport schema, version 3: row-level security (PostgreSQL). Runs with `search_path` set to
-- the store's schema.
--
-- Every tenant table only shows and accepts the rows of the tenant named by the setting
-- `rapport.tenant`, which the store sets in every transaction and before every read
-- (`set_config('rapport.tenant', '<tenant uuid>', …)`). A statement that forgets its own
-- `tenant_id = $1` filter still cannot see or write another tenant's rows; with the setting
-- unset (or empty) no row is visible at all.
--
-- The outbox is claimed across tenants by the relay: for it alone, the setting `*` shows
-- every tenant's rows. `*` shows nothing in the other tables.
--
-- FORCE makes the policies hold for the tables' owner too (the role that ran the
-- migrations, often the application's). Superusers and roles with BYPASSRLS are never
-- subject to row-level security: run the application as an ordinary role.
--
-- On a hash-partitioned schema the policies are set on each partition as well, so a query
-- naming a partition directly is filtered like one through the parent table.

-- The tenant named by `rapport.tenant`, or NULL when it is unset, empty or `*` (so
-- `tenant_id = rapport_tenant()` holds for no row). Inlined by the planner (a plain SQL
-- expression), so the policy's comparison can use the `(tenant_id, …)` indexes.
CREATE FUNCTION rapport_tenant() RETURNS uuid LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT CASE WHEN current_setting('rapport.tenant', true) IN ('', '*') THEN NULL
                ELSE current_setting('rapport.tenant', true) END::uuid
$$;

DO $rls$
DECLARE
    t record;
BEGIN
    FOR t IN
        SELECT c.oid::regclass AS rel,
               coalesce(p.relname, c.relname) AS base
        FROM pg_class c
        LEFT JOIN pg_inherits i ON i.inhrelid = c.oid
        LEFT JOIN pg_class p ON p.oid = i.inhparent
        WHERE c.relnamespace = current_schema()::regnamespace
          AND coalesce(p.relname, c.relname) IN ('customers', 'activities', 'outbox')
          AND c.relkind IN ('r', 'p')
    LOOP
        EXECUTE format('ALTER TABLE %s ENABLE ROW LEVEL SECURITY', t.rel);
        EXECUTE format('ALTER TABLE %s FORCE ROW LEVEL SECURITY', t.rel);
        EXECUTE format(
            'CREATE POLICY tenant_rows ON %s USING (tenant_id = rapport_tenant()) '
            'WITH CHECK (tenant_id = rapport_tenant())', t.rel);
        IF t.base = 'outbox' THEN
            EXECUTE format(
                'CREATE POLICY relay_rows ON %s '
                'USING (current_setting(''rapport.tenant'', true) = ''*'')', t.rel);
        END IF;
    END LOOP;
END
$rls$;
