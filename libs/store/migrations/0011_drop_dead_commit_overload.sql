-- The 49-parameter postroom_commit_decision of 0005/0007 was kept by 0008 for routers of the
-- previous release during a rolling update; no router calls it any more. The live 50-parameter
-- one is defined in libs/store/sql/functions/postroom_commit_decision.sql and re-applied by
-- the migrator whenever that file changes.
DROP FUNCTION IF EXISTS postroom_commit_decision(
    bigint, boolean, text, bigint, text, text, text, double precision, bigint, bytea, boolean,
    text, bytea, text, text, text, text, text, text, text, bigint, text, boolean, boolean,
    bigint, text, text, text, text, text, text, text, text, text, text, text, boolean, bigint,
    boolean, bigint, text, text, text, text, text, text, text, double precision, integer);

-- The migrator's record of applied function and view files (schema_repeatables) is its own,
-- like schema_migrations: the service role reads it and never writes it.
DO $$
BEGIN
  IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'postroom_app')
     AND to_regclass('schema_repeatables') IS NOT NULL THEN
    REVOKE ALL ON schema_repeatables FROM postroom_app;
    GRANT SELECT ON schema_repeatables TO postroom_app;
  END IF;
END $$;
