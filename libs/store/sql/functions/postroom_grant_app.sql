-- Grants the service role postroom_app what the services need and no more (docs/kubernetes.md):
-- data, sequences and functions, but no DDL, only SELECT and INSERT on audit_log and only
-- SELECT on the migrator's schema_migrations and schema_repeatables. 0010 creates the role
-- where it can and calls this; where a DBA must create the role, the owner calls it afterwards.
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
  REVOKE ALL ON schema_repeatables FROM postroom_app;
  GRANT SELECT ON schema_repeatables TO postroom_app;
  -- Granting the role to itself as a privilege holder must not hand out the grant function.
  REVOKE EXECUTE ON FUNCTION postroom_grant_app() FROM postroom_app, PUBLIC;
END $$;
