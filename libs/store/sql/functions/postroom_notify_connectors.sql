-- Wakes fetchers when a connector is created, changed, enabled or disabled (LISTEN
-- postroom_connectors); they also re-read on every lease round, so a lost notification only
-- delays a change by one round. Trigger connectors_notify in 0004.
CREATE OR REPLACE FUNCTION postroom_notify_connectors() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_notify('postroom_connectors', '');
  RETURN NULL;
END $$;
