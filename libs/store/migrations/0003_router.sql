-- What the router needs beyond 0002: Outlook conversation roots for follow-ups, claims for the
-- pending sweep shared by router replicas, an event order for WatchWorkItems, and the indexes
-- behind follow-up lookups and the per-sender acknowledgement rate limit.

-- First 22 bytes of Thread-Index (the conversation), hex; '' when absent.
ALTER TABLE messages ADD COLUMN thread_root text NOT NULL DEFAULT '';
-- Set when a router's sweep takes a pending message; another replica skips it until it is old.
ALTER TABLE messages ADD COLUMN route_claimed_at timestamptz;
CREATE INDEX messages_by_thread_root ON messages (connector_id, thread_root)
  WHERE thread_root <> '';
CREATE INDEX messages_by_work_item ON messages (work_item_id) WHERE work_item_id IS NOT NULL;
CREATE INDEX messages_pending_by_stored_at ON messages (stored_at) WHERE decision IS NULL;

-- Increasing id of "a message was added to a work item": what WatchWorkItems resumes from.
ALTER TABLE work_item_messages ADD COLUMN event_id bigint GENERATED ALWAYS AS IDENTITY;
CREATE UNIQUE INDEX work_item_messages_by_event ON work_item_messages (event_id);

CREATE INDEX outbox_ack_rate ON outbox (to_address, created_at) WHERE reason = 'ack';
CREATE INDEX outbox_by_work_item ON outbox (work_item_id) WHERE work_item_id IS NOT NULL;
