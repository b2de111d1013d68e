-- mogile's atomicity guard for the embedded FerretDB (v1 on PostgreSQL). Idempotent.
--
-- FerretDB applies an update by reading the document, applying the operators in Go and writing
-- the whole document back by _id, with no check that the row is unchanged; it deletes by _id
-- after reading with the filter. Every collection table FerretDB creates gets a row trigger:
--   UPDATE: the new `_rev` must be the stored `_rev` + 1 (the store layer adds `$inc: {_rev: 1}`
--           to every update), so of two writers that read the same version the second fails
--           and is retried from its read; the incarnation `_inc` (random, set at insert) must be
--           the stored one (no write based on a deleted document lands on its successor); a row
--           marked `_gone` cannot be updated any more;
--   DELETE: only rows marked `_gone` (the mark is an update, hence checked against the filter
--           atomically; the store layer deletes the row right after).
-- The second of two racing UPDATEs waits for the row lock, then sees the first one's row as OLD.
-- Messages start with mogile_conflict / mogile_gone / mogile_unmarked_delete: the store layer
-- (actors/runtime/atomic.ts) recognises them in the driver's error.

CREATE OR REPLACE FUNCTION public.mogile_guard() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'DELETE' THEN
    IF (OLD._jsonb ->> '_gone') IS NULL THEN
      RAISE EXCEPTION 'mogile_unmarked_delete: % in %.% deleted without the store layer''s mark',
        OLD._jsonb -> '_id', TG_TABLE_SCHEMA, TG_TABLE_NAME;
    END IF;
    RETURN OLD;
  END IF;
  IF (OLD._jsonb ->> '_gone') IS NOT NULL THEN
    RAISE EXCEPTION 'mogile_gone: % in %.% is being deleted', OLD._jsonb -> '_id', TG_TABLE_SCHEMA, TG_TABLE_NAME;
  END IF;
  -- a write based on an earlier document with the same _id (deleted, then inserted again): its
  -- _rev may happen to fit, its incarnation cannot
  IF (NEW._jsonb -> '_inc') IS DISTINCT FROM (OLD._jsonb -> '_inc') THEN
    RAISE EXCEPTION 'mogile_conflict: % in %.% is another incarnation than the one read',
      OLD._jsonb -> '_id', TG_TABLE_SCHEMA, TG_TABLE_NAME;
  END IF;
  IF COALESCE((NEW._jsonb ->> '_rev')::numeric, 0) <> COALESCE((OLD._jsonb ->> '_rev')::numeric, 0) + 1 THEN
    RAISE EXCEPTION 'mogile_conflict: % in %.% changed since it was read (stored rev %, written rev %)',
      OLD._jsonb -> '_id', TG_TABLE_SCHEMA, TG_TABLE_NAME, OLD._jsonb ->> '_rev', NEW._jsonb ->> '_rev';
  END IF;
  RETURN NEW;
END $$;

-- attach the row trigger to one table if it is a FerretDB collection table without it
CREATE OR REPLACE FUNCTION public.mogile_guard_table(rel oid) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
  name text;
BEGIN
  SELECT c.relname INTO name FROM pg_class c WHERE c.oid = rel AND c.relkind IN ('r', 'p');
  IF name IS NULL OR name LIKE '\_ferretdb\_%' THEN RETURN; END IF;
  IF NOT EXISTS (SELECT 1 FROM pg_attribute WHERE attrelid = rel AND attname = '_jsonb' AND NOT attisdropped) THEN RETURN; END IF;
  IF EXISTS (SELECT 1 FROM pg_trigger WHERE tgrelid = rel AND tgname = 'mogile_guard') THEN RETURN; END IF;
  EXECUTE format('CREATE TRIGGER mogile_guard BEFORE UPDATE OR DELETE ON %s FOR EACH ROW EXECUTE FUNCTION public.mogile_guard()', rel::regclass);
END $$;

-- every table FerretDB creates from now on (a new collection) is guarded in the same transaction
CREATE OR REPLACE FUNCTION public.mogile_guard_new_tables() RETURNS event_trigger LANGUAGE plpgsql AS $$
DECLARE
  r record;
BEGIN
  FOR r IN SELECT objid FROM pg_event_trigger_ddl_commands() WHERE command_tag = 'CREATE TABLE' AND object_type = 'table' LOOP
    PERFORM public.mogile_guard_table(r.objid);
  END LOOP;
END $$;

DROP EVENT TRIGGER IF EXISTS mogile_guard_new_tables;
CREATE EVENT TRIGGER mogile_guard_new_tables ON ddl_command_end WHEN TAG IN ('CREATE TABLE')
  EXECUTE FUNCTION public.mogile_guard_new_tables();

-- and every collection table that exists already (data dirs made before the guard)
SELECT public.mogile_guard_table(c.oid)
  FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
  WHERE c.relkind = 'r' AND n.nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast', 'public');
