-- The sender's claim on an outbox row. A row stays `queued` while a sender replica holds it
-- (so the config service's outbox depth and oldest-due-age gauges, and the "outbox stuck"
-- alert, keep counting it until it is really sent); `claimed_until` is the lease: a replica that
-- crashed mid-send leaves a claim that expires, and another replica retries the row then.
-- `claim_token` grows with every claim; a replica may finish only the claim it holds, so a
-- paused replica whose lease ran out cannot overwrite the result of the one that took over.
ALTER TABLE outbox
  ADD COLUMN claimed_by       text NOT NULL DEFAULT '',
  ADD COLUMN claimed_until    timestamptz,
  ADD COLUMN claim_token      bigint NOT NULL DEFAULT 0,
  ADD COLUMN last_error_class text NOT NULL DEFAULT '',
  ADD COLUMN last_attempt_at  timestamptz,
  -- The Message-ID header the sender gave the row (stable across retries of the same row).
  ADD COLUMN smtp_message_id  text NOT NULL DEFAULT '';

-- Lists by state and connector (postroomctl get outbox).
CREATE INDEX outbox_by_status ON outbox (status, id);

-- Wakes senders when a row becomes sendable: queued by the router or the fetcher, or put back
-- by RetryNow (LISTEN postroom_outbox). Senders also poll, so a lost notification only delays a
-- send by one poll interval. A claim (claimed_by set) notifies nobody.
CREATE FUNCTION postroom_notify_outbox() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_notify('postroom_outbox', '');
  RETURN NULL;
END $$;
CREATE TRIGGER outbox_notify AFTER INSERT OR UPDATE ON outbox
  FOR EACH ROW WHEN (NEW.status = 'queued' AND NEW.claimed_by = '')
  EXECUTE FUNCTION postroom_notify_outbox();
