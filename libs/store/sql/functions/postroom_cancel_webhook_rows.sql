-- A deleted webhook's queued deliveries are cancelled, so no queue waits for a receiver that
-- is gone. Trigger webhooks_cancel_rows in 0013.
CREATE OR REPLACE FUNCTION postroom_cancel_webhook_rows() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  UPDATE outbox SET status = 'cancelled', last_error = 'webhook deleted',
                    claimed_by = '', claimed_until = NULL
   WHERE kind = 'webhook' AND webhook = OLD.name AND status = 'queued';
  RETURN OLD;
END $$;
