-- rapport schema, version 12: a refusal that aborts the transaction (PostgreSQL). Runs with
-- `search_path` set to the store's schema.
--
-- The group commit sends a group of plain changesets (customers, activities, outbox rows)
-- and its `COMMIT` in one pipeline, before any answer is read. That is only safe when every
-- refusal is an error: an error aborts the transaction, so the `COMMIT` behind it rolls the
-- whole group back (and the group runs again, one savepoint per changeset, to tell each
-- caller its own outcome). The statements of that pipeline therefore raise where the usual
-- ones write nothing: an update at a stale version, an idempotency key already stored.
-- `rapport_refuse_unless(ok, what)` is the raise: it returns true when `ok` holds and fails
-- the statement (SQLSTATE RA001) when it does not. Volatile, so it is never folded away.
CREATE FUNCTION rapport_refuse_unless(ok boolean, what text) RETURNS boolean
LANGUAGE plpgsql VOLATILE AS $$
BEGIN
    IF ok IS NOT TRUE THEN
        RAISE EXCEPTION 'rapport: % refused', what USING ERRCODE = 'RA001';
    END IF;
    RETURN true;
END
$$;
