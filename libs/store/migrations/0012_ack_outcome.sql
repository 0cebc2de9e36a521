-- Acknowledgements that never loop (docs/router.md, "Acknowledgements").
--
-- messages.ack_outcome: what became of the acknowledgement a created work item asked for,
-- written in the decision's own transaction (postroom_commit_decision):
--   {"state": "queued", "outbox_id": 17}
--   {"state": "suppressed", "reason": "rate_limited", "detail": "..."}
--   NULL: none was asked for (no ack_template, no work item made, or decided before 0012).
ALTER TABLE messages ADD COLUMN ack_outcome jsonb;

-- The limits count acknowledgements per sender by the normalised address (case, quotes and
-- +tag removed: jane+x@ and "Jane"@ are one sender) and per incoming connector, not by the
-- outgoing row's to_address and outgoing connector.
ALTER TABLE outbox
  ADD COLUMN ack_sender       text NOT NULL DEFAULT '',
  ADD COLUMN ack_connector_id bigint;
UPDATE outbox o SET ack_sender = regexp_replace(lower(o.to_address), '\+[^@]*@', '@'),
                    ack_connector_id = w.connector_id
  FROM work_items w WHERE o.reason = 'ack' AND w.id = o.work_item_id;
DROP INDEX IF EXISTS outbox_ack_rate;
CREATE INDEX outbox_ack_by_sender ON outbox (ack_sender, created_at) WHERE reason = 'ack';
CREATE INDEX outbox_ack_by_connector ON outbox (ack_connector_id, created_at)
  WHERE reason = 'ack';

-- postroom_commit_decision gained p_ack_policy (51 parameters); the 50-parameter one goes.
DROP FUNCTION IF EXISTS postroom_commit_decision(
    bigint, boolean, text, bigint, text, text, text, double precision, bigint, bytea, boolean,
    text, bytea, text, text, text, text, text, text, text, bigint, text, boolean, boolean,
    bigint, text, text, text, text, text, text, text, text, text, text, text, boolean, bigint,
    boolean, bigint, text, text, text, text, text, text, text, double precision, integer,
    boolean);
