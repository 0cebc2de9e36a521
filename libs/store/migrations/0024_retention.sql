-- Retention (issue #20, docs/privacy.md "Retention"): the raw bytes and bodies of decided mail
-- older than its connector's `retention_days` (or the system setting) are removed by the
-- router's retention sweep, one small batch per transaction (postroom_retention_sweep).
--
-- messages.content_removed_at: when the sweep emptied `raw`; readers answer "removed by
-- retention" and the sweep never takes the row again.
ALTER TABLE messages ADD COLUMN content_removed_at timestamptz;
-- What the sweep takes next, oldest first per connector: decided rows that still hold their
-- bytes. Pending rows are not in it (never touched), swept and forgotten rows leave it.
CREATE INDEX messages_retention_due ON messages (connector_id, stored_at)
  WHERE decision IS NOT NULL AND content_removed_at IS NULL AND forgotten_at IS NULL;
-- How many of the connector's messages the sweep emptied so far (`describe connector`):
-- counting content_removed_at over the whole table would be a scan per describe.
ALTER TABLE connector_state
  ADD COLUMN retention_removed bigint NOT NULL DEFAULT 0,
  ADD COLUMN retention_swept_at timestamptz;
-- The outbox rows answering a batch of swept messages (their bodies go too): without it each
-- batch reads the whole outbox.
CREATE INDEX outbox_by_message ON outbox (message_id) WHERE message_id IS NOT NULL;
