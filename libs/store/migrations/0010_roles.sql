-- Services connect as login roles that do not own the tables; only migrations run as the owner.
--
-- postroom_app is a NOLOGIN group role; each service's login role is granted it (see
-- docs/kubernetes.md, "Database roles"). It gets what the services use and no more:
--   * SELECT, INSERT, UPDATE, DELETE on every table but audit_log and schema_migrations;
--   * audit_log: INSERT and SELECT only (history is appended, never rewritten);
--   * schema_migrations: SELECT only (services check the schema version; `migrate` writes it);
--   * USAGE on sequences (nextval for bigserial keys), EXECUTE on functions.
-- Tables, sequences and functions of later migrations get the same through default privileges.
-- Not being the owner, the role can neither ALTER, DROP nor TRUNCATE, nor disable triggers.
--
-- Where the role already exists (a DBA made it, or another database of the cluster uses it)
-- it is reused as it is. Where the migrating role may not CREATE ROLE, the migration still
-- applies (the audit_log triggers below matter on their own) and says so in a NOTICE; the DBA
-- then runs, as a role with CREATEROLE:
--     CREATE ROLE postroom_app NOLOGIN;
-- and the owner, in this database:
--     SELECT postroom_grant_app();
-- postroom_grant_app() may be run again at any time: every grant is idempotent.

DO $$
BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'postroom_app') THEN
    BEGIN
      CREATE ROLE postroom_app NOLOGIN;
    EXCEPTION
      WHEN duplicate_object OR unique_violation THEN
        NULL;  -- Another database of the cluster migrated at the same moment.
      WHEN insufficient_privilege THEN
      RAISE NOTICE 'postroom: cannot create role postroom_app (%): a DBA runs '
                   '"CREATE ROLE postroom_app NOLOGIN;", then the owner runs '
                   '"SELECT postroom_grant_app();" (docs/kubernetes.md)', SQLERRM;
    END;
  END IF;
END $$;

CREATE OR REPLACE FUNCTION postroom_grant_app() RETURNS void LANGUAGE plpgsql AS $$
BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'postroom_app') THEN
    RAISE NOTICE 'postroom: role postroom_app does not exist; nothing granted';
    RETURN;
  END IF;
  EXECUTE format('GRANT USAGE ON SCHEMA %I TO postroom_app', current_schema());
  EXECUTE format('GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA %I '
                 'TO postroom_app', current_schema());
  EXECUTE format('GRANT USAGE ON ALL SEQUENCES IN SCHEMA %I TO postroom_app', current_schema());
  EXECUTE format('GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA %I TO postroom_app', current_schema());
  EXECUTE format('ALTER DEFAULT PRIVILEGES IN SCHEMA %I GRANT SELECT, INSERT, UPDATE, DELETE '
                 'ON TABLES TO postroom_app', current_schema());
  EXECUTE format('ALTER DEFAULT PRIVILEGES IN SCHEMA %I GRANT USAGE ON SEQUENCES '
                 'TO postroom_app', current_schema());
  EXECUTE format('ALTER DEFAULT PRIVILEGES IN SCHEMA %I GRANT EXECUTE ON FUNCTIONS '
                 'TO postroom_app', current_schema());
  REVOKE ALL ON audit_log FROM postroom_app;
  GRANT SELECT, INSERT ON audit_log TO postroom_app;
  REVOKE ALL ON schema_migrations FROM postroom_app;
  GRANT SELECT ON schema_migrations TO postroom_app;
  -- Granting the role to itself as a privilege holder must not hand out the grant function.
  REVOKE EXECUTE ON FUNCTION postroom_grant_app() FROM postroom_app, PUBLIC;
END $$;

SELECT postroom_grant_app();

-- 0001 refuses UPDATE and DELETE of audit_log for everyone, the owner too; TRUNCATE bypasses
-- row and statement triggers of UPDATE/DELETE, so it gets its own. The owner (and only the
-- owner or a superuser) can still deliberately ALTER TABLE audit_log DISABLE TRIGGER for a
-- retention purge: that is DDL a service role cannot run, and it shows in the server log.
CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log
  FOR EACH STATEMENT EXECUTE FUNCTION audit_log_is_append_only();
