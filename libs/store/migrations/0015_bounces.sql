-- Bounces and suppression (docs/router.md "Bounces", docs/sender.md "Suppressed addresses").
-- A bounce the router ties to an outbox row marks that row `bounced` with the DSN's status and
-- diagnostic; a permanent one (5.x.x) also puts the row's address on the suppression list of
-- the outgoing connector that sent it. Automatic mail (reason `ack`) to a suppressed address
-- is then not sent: the router records the acknowledgement as suppressed, and the sender marks
-- a row queued before the bounce arrived `suppressed` instead of sending it.
ALTER TABLE outbox DROP CONSTRAINT outbox_status_check;
ALTER TABLE outbox ADD CONSTRAINT outbox_status_check
  CHECK (status IN ('queued', 'sending', 'sent', 'failed', 'cancelled', 'bounced', 'suppressed'));
ALTER TABLE outbox
  ADD COLUMN bounce_status     text NOT NULL DEFAULT '',  -- Enhanced status code, e.g. 5.1.1.
  ADD COLUMN bounce_diagnostic text NOT NULL DEFAULT '',  -- The DSN's Diagnostic-Code, bounded.
  ADD COLUMN bounced_at        timestamptz,
  ADD COLUMN bounce_message_id bigint REFERENCES messages (id) ON DELETE SET NULL;

CREATE TABLE suppressions (
  id                bigserial PRIMARY KEY,
  connector_id      bigint NOT NULL REFERENCES connectors (id) ON DELETE CASCADE,
  address           text NOT NULL CHECK (address = lower(btrim(address)) AND address <> ''),
  reason            text NOT NULL DEFAULT 'bounce',
  dsn_status        text NOT NULL DEFAULT '',
  diagnostic        text NOT NULL DEFAULT '',
  created_at        timestamptz NOT NULL DEFAULT now(),
  source_outbox_id  bigint REFERENCES outbox (id) ON DELETE SET NULL,
  source_message_id bigint REFERENCES messages (id) ON DELETE SET NULL,  -- The bounce.
  UNIQUE (connector_id, address)
);
