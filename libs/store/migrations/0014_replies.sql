-- Replies from the service desk (SenderService.SendReply, reason 'reply'): sent from the address
-- the requester wrote to (a connector's primary address or alias), which need not be the
-- outgoing connector's own, with copies to Cc addresses and attachments stored with the row.
-- '' from_address: the outgoing connector's primary address (acknowledgements, notices).
ALTER TABLE outbox
  ADD COLUMN from_address text NOT NULL DEFAULT '',
  -- Cc recipients, comma-separated bare addresses (SendReply refuses any with a comma).
  ADD COLUMN cc           text NOT NULL DEFAULT '';

-- Bounded by SendReply (count, and total bytes within the outgoing connector's max message
-- size); rendered as parts of a multipart/mixed message in `position` order.
CREATE TABLE outbox_attachments (
  outbox_id    bigint NOT NULL REFERENCES outbox (id) ON DELETE CASCADE,
  position     integer NOT NULL,
  filename     text NOT NULL,
  content_type text NOT NULL,
  content      bytea NOT NULL,
  PRIMARY KEY (outbox_id, position)
);
