-- Wakes senders when a row becomes sendable: queued by the router or the fetcher, or put back
-- by RetryNow (LISTEN postroom_outbox). Senders also poll, so a lost notification only delays a
-- send by one poll interval. A claim (claimed_by set) notifies nobody.
-- Trigger outbox_notify in 0006.
CREATE OR REPLACE FUNCTION postroom_notify_outbox() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_notify('postroom_outbox', '');
  RETURN NULL;
END $$;
