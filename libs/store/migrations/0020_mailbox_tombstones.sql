-- Deleting a connector must not make its mailbox new again: re-created for the same mailbox,
-- it used to fetch (and acknowledge) everything a second time. A deleted connector's fetch
-- position is kept here, keyed by its mailbox identity (docs/fetcher.md: protocol, host, port,
-- username, Graph tenant and shared mailbox), and a connector created for that mailbox adopts
-- it. One row per mailbox: a later delete replaces it, an adoption removes it.
CREATE TABLE mailbox_tombstones (
  mailbox    text PRIMARY KEY CHECK (length(mailbox) <= 2048),
  connector  text NOT NULL,                -- The deleted connector's name, for operators.
  deleted_at timestamptz NOT NULL DEFAULT now(),
  -- folder_cursors rows: folder, uidvalidity, last_uid, delta_link, backfill_done/_total.
  cursors    jsonb NOT NULL DEFAULT '[]',
  pop3_uidls text[] NOT NULL DEFAULT '{}'  -- pop3_seen: as many as the mailbox listed.
);
