-- Fetcher replicas announce themselves here on every lease round, so each can compute its fair
-- share of the connectors (ceil(active connectors / live replicas)) even before it holds any.
CREATE TABLE fetcher_replicas (
  owner      text PRIMARY KEY,
  expires_at timestamptz NOT NULL,
  started_at timestamptz NOT NULL DEFAULT now()
);

-- Wakes fetchers when a connector is created, changed, enabled or disabled (LISTEN
-- postroom_connectors); they also re-read on every lease round, so a lost notification only
-- delays a change by one round.
CREATE FUNCTION postroom_notify_connectors() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_notify('postroom_connectors', '');
  RETURN NULL;
END $$;
CREATE TRIGGER connectors_notify AFTER INSERT OR UPDATE OR DELETE ON connectors
  FOR EACH STATEMENT EXECUTE FUNCTION postroom_notify_connectors();
