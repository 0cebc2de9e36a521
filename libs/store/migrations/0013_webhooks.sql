-- Webhooks: the service desk hears about what happens (docs/webhooks.md).
--
-- A webhook is a config object like a template: `spec` is the API's Webhook as JSON (url,
-- events, enabled, description; no secret). Its signing secret is sealed like a connector's
-- (AES-256-GCM, associated data "webhook:<name>:secret"), in the row itself: one secret per
-- webhook, never returned.
CREATE TABLE webhooks (
  name          text PRIMARY KEY,
  spec          jsonb NOT NULL,
  version       bigint NOT NULL DEFAULT 1,
  modified_at   timestamptz NOT NULL DEFAULT now(),
  modified_by   text NOT NULL,
  secret_key_id text NOT NULL DEFAULT '',
  secret_sealed text NOT NULL DEFAULT ''
);

-- One outbox row (kind 'webhook') per (event, webhook), queued by
-- postroom_queue_webhook_event in the transaction of the change it describes. body_text is the
-- JSON body, signed when sent; `subject` the event name; `to_address` the URL at queue time (for
-- people: the sender posts to the webhook's current URL). A deleted webhook's rows keep its
-- name and are cancelled (trigger below), so a queue never waits for a receiver that is gone.
ALTER TABLE outbox
  ADD COLUMN webhook text NOT NULL DEFAULT '',
  ADD COLUMN event   text NOT NULL DEFAULT '';

-- In order per work item: the sender claims a webhook row only when no earlier row of the same
-- (webhook, work item) is still queued; this index answers that in one probe.
CREATE INDEX outbox_webhook_order ON outbox (webhook, work_item_id, id)
  WHERE kind = 'webhook' AND status = 'queued';
-- The sender's webhook claim takes rows in (due_at, id) order. Events queued together share
-- one due_at (the transaction's now()), so outbox_due (due_at) alone left a sort of every
-- queued row per claim: 250-300 deliveries/s with 5,000 queued, rising to 680/s as the queue
-- drained; with this index 1,000-1,060/s at any depth (bench/sender/webhooks.sh). In this
-- order the claim reads only the rows it takes.
CREATE INDEX outbox_webhook_due ON outbox (due_at, id) WHERE kind = 'webhook' AND status = 'queued';

CREATE FUNCTION postroom_cancel_webhook_rows() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  UPDATE outbox SET status = 'cancelled', last_error = 'webhook deleted',
                    claimed_by = '', claimed_until = NULL
   WHERE kind = 'webhook' AND webhook = OLD.name AND status = 'queued';
  RETURN OLD;
END $$;
CREATE TRIGGER webhooks_cancel_rows AFTER DELETE ON webhooks
  FOR EACH ROW EXECUTE FUNCTION postroom_cancel_webhook_rows();
