-- Messages, work items, the outbox and the fetcher's leases and cursors. The fetcher stores
-- each raw message here before it tells the mail server anything; the router gives every
-- stored message exactly one decision; the sender drains the outbox.

CREATE TABLE messages (
  id             bigserial PRIMARY KEY,
  connector_id   bigint NOT NULL REFERENCES connectors (id) ON DELETE CASCADE,
  -- Unique per connector: IMAP "<folder>:<uidvalidity>:<uid>", POP3 "uidl:<uidl>", Graph
  -- "graph:<immutable id>", RouteEmail callers' own key, or "sha256:<hex>" when they give none.
  fetch_key      text NOT NULL,
  folder         text NOT NULL DEFAULT '',
  queue_hint     text NOT NULL DEFAULT '',
  received_at    timestamptz NOT NULL DEFAULT now(),
  stored_at      timestamptz NOT NULL DEFAULT now(),
  size_bytes     bigint NOT NULL,
  raw            bytea NOT NULL,
  -- Over the connector's max size: raw holds the header block only, and the decision is failed.
  truncated      boolean NOT NULL DEFAULT false,
  message_id     text NOT NULL DEFAULT '',   -- Message-ID without angle brackets.
  content_sha256 bytea,
  summary        jsonb,                      -- Parsed: subject, from, classification ...
  -- NULL while pending; then one of the decisions below, never NULL again.
  decision       text CHECK (decision IN ('created', 'appended', 'duplicate', 'spam', 'auto_reply',
                                          'bounce', 'blocked', 'unhandled', 'failed')),
  decided_at     timestamptz,
  decision_step  text NOT NULL DEFAULT '',   -- Pipeline step that decided.
  decision_route text NOT NULL DEFAULT '',   -- Route that matched, if any.
  decision_reason text NOT NULL DEFAULT '',
  trace          jsonb,                      -- Every step and route evaluated.
  work_item_id   bigint,
  duplicate_of   bigint REFERENCES messages (id),
  spam_status    text CHECK (spam_status IN ('auto_spam', 'manual_spam', 'manual_clean')),
  route_attempts integer NOT NULL DEFAULT 0,
  last_error     text NOT NULL DEFAULT '',
  UNIQUE (connector_id, fetch_key)
);
-- Raw mail is most of the bytes; lz4 costs a fraction of pglz's CPU (see bench/).
ALTER TABLE messages ALTER COLUMN raw SET COMPRESSION lz4;
CREATE INDEX messages_pending ON messages (connector_id, id) WHERE decision IS NULL;
CREATE INDEX messages_by_message_id ON messages (connector_id, message_id) WHERE message_id <> '';
CREATE INDEX messages_by_decided_at ON messages (connector_id, decided_at);

CREATE TABLE work_items (
  id                bigserial PRIMARY KEY,
  -- Work items outlive their connector.
  connector_id      bigint REFERENCES connectors (id) ON DELETE SET NULL,
  reference         text NOT NULL UNIQUE,       -- "SUP-1042": what subject tokens carry.
  source            text NOT NULL DEFAULT 'email',
  queue             text NOT NULL,
  type              text NOT NULL DEFAULT '',
  priority          text NOT NULL DEFAULT 'normal',
  requester_address text NOT NULL,
  requester_name    text NOT NULL DEFAULT '',
  subject           text NOT NULL DEFAULT '',
  body              text NOT NULL DEFAULT '',
  fields            jsonb NOT NULL DEFAULT '{}',
  attachments       jsonb NOT NULL DEFAULT '[]',
  test_mode         boolean NOT NULL DEFAULT false,
  created_at        timestamptz NOT NULL DEFAULT now(),
  updated_at        timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX work_items_by_queue ON work_items (queue, id);

CREATE TABLE work_item_messages (
  work_item_id bigint NOT NULL REFERENCES work_items (id) ON DELETE CASCADE,
  message_id   bigint NOT NULL REFERENCES messages (id) ON DELETE CASCADE,
  role         text NOT NULL CHECK (role IN ('created', 'appended')),
  added_at     timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (work_item_id, message_id)
);
CREATE UNIQUE INDEX work_item_messages_once ON work_item_messages (message_id);

CREATE TABLE outbox (
  id            bigserial PRIMARY KEY,
  connector_id  bigint REFERENCES connectors (id) ON DELETE SET NULL,  -- Outgoing connector.
  kind          text NOT NULL DEFAULT 'email' CHECK (kind IN ('email', 'webhook')),
  reason        text NOT NULL DEFAULT '',     -- "ack", "notification" ...
  status        text NOT NULL DEFAULT 'queued'
                CHECK (status IN ('queued', 'sending', 'sent', 'failed', 'cancelled')),
  due_at        timestamptz NOT NULL DEFAULT now(),
  attempts      integer NOT NULL DEFAULT 0,
  last_error    text NOT NULL DEFAULT '',
  to_address    text NOT NULL DEFAULT '',
  subject       text NOT NULL DEFAULT '',
  body_text     text NOT NULL DEFAULT '',
  body_html     text NOT NULL DEFAULT '',
  headers       jsonb NOT NULL DEFAULT '{}',
  work_item_id  bigint REFERENCES work_items (id) ON DELETE SET NULL,
  message_id    bigint REFERENCES messages (id) ON DELETE SET NULL,  -- What it answers.
  -- Makes queuing idempotent: e.g. "ack:<message id>".
  dedupe_key    text UNIQUE,
  created_at    timestamptz NOT NULL DEFAULT now(),
  sent_at       timestamptz
);
CREATE INDEX outbox_due ON outbox (due_at) WHERE status = 'queued';

-- Which fetcher replica polls a connector. Every cursor or state write carries the fencing
-- token it was granted, so a paused replica whose lease moved on cannot write.
CREATE TABLE fetcher_leases (
  connector_id  bigint PRIMARY KEY REFERENCES connectors (id) ON DELETE CASCADE,
  owner         text NOT NULL,
  expires_at    timestamptz NOT NULL,
  fencing_token bigint NOT NULL
);

CREATE TABLE folder_cursors (
  connector_id  bigint NOT NULL REFERENCES connectors (id) ON DELETE CASCADE,
  folder        text NOT NULL,
  uidvalidity   bigint NOT NULL DEFAULT 0,   -- IMAP.
  last_uid      bigint NOT NULL DEFAULT 0,   -- IMAP: the highest UID stored.
  delta_link    text NOT NULL DEFAULT '',    -- Microsoft Graph.
  backfill_done  bigint NOT NULL DEFAULT 0,
  backfill_total bigint NOT NULL DEFAULT 0,
  fencing_token bigint NOT NULL DEFAULT 0,
  updated_at    timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (connector_id, folder)
);

-- POP3 has no UIDs that grow: the set of UIDLs already stored.
CREATE TABLE pop3_seen (
  connector_id bigint NOT NULL REFERENCES connectors (id) ON DELETE CASCADE,
  uidl         text NOT NULL,
  seen_at      timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (connector_id, uidl)
);
