-- Connectors, their state, routes, templates, blocked addresses, settings, secrets and the
-- append-only audit history. Objects keep their full settings as the API's JSON in `spec`
-- (secrets stripped; they live encrypted in `secrets`) and the columns other services filter on.

CREATE TABLE connectors (
  id                    bigserial PRIMARY KEY,
  name                  text NOT NULL UNIQUE,
  protocol              text NOT NULL CHECK (protocol IN ('imap', 'pop3', 'graph', 'smtp')),
  direction             text NOT NULL CHECK (direction IN ('incoming', 'outgoing', 'both')),
  status                text NOT NULL DEFAULT 'draft'
                        CHECK (status IN ('draft', 'active', 'disabled', 'disabled_by_system')),
  system_default        boolean NOT NULL DEFAULT false,
  spec                  jsonb NOT NULL,
  version               bigint NOT NULL DEFAULT 1,
  created_at            timestamptz NOT NULL DEFAULT now(),
  modified_at           timestamptz NOT NULL DEFAULT now(),
  modified_by           text NOT NULL,
  -- A connection test must pass after this instant before the connector may be enabled.
  connection_changed_at timestamptz NOT NULL DEFAULT now()
);
-- One system default outgoing connector at most.
CREATE UNIQUE INDEX connectors_one_system_default ON connectors (system_default) WHERE system_default;

CREATE TABLE connector_state (
  connector_id                 bigint PRIMARY KEY REFERENCES connectors (id) ON DELETE CASCADE,
  last_check_at                timestamptz,
  last_success_check_at        timestamptz,
  last_incoming_success_at     timestamptz,
  last_outgoing_success_at     timestamptz,
  last_incoming_error          text NOT NULL DEFAULT '',
  last_incoming_error_class    text NOT NULL DEFAULT '',
  last_incoming_error_at       timestamptz,
  last_outgoing_error          text NOT NULL DEFAULT '',
  last_outgoing_error_class    text NOT NULL DEFAULT '',
  last_outgoing_error_at       timestamptz,
  consecutive_incoming_errors  integer NOT NULL DEFAULT 0,
  consecutive_outgoing_errors  integer NOT NULL DEFAULT 0,
  auto_disabled_reason         text NOT NULL DEFAULT '',
  auto_disabled_at             timestamptz,
  last_test_at                 timestamptz,
  last_test_passed             boolean NOT NULL DEFAULT false,
  last_test_report             jsonb,
  backfill_done                bigint NOT NULL DEFAULT 0,
  backfill_total               bigint NOT NULL DEFAULT 0
);

CREATE TABLE routes (
  id             bigserial PRIMARY KEY,
  connector_id   bigint NOT NULL REFERENCES connectors (id) ON DELETE CASCADE,
  name           text NOT NULL,
  position       integer NOT NULL CHECK (position > 0),
  is_fallback    boolean NOT NULL DEFAULT false,
  when_json      jsonb NOT NULL DEFAULT '{}',
  then_json      jsonb NOT NULL DEFAULT '{}',
  test_mode_only boolean NOT NULL DEFAULT false,
  description    text NOT NULL DEFAULT '',
  version        bigint NOT NULL DEFAULT 1,
  modified_at    timestamptz NOT NULL DEFAULT now(),
  modified_by    text NOT NULL,
  UNIQUE (connector_id, name),
  -- Deferred so that a reorder can shift positions within one transaction.
  CONSTRAINT routes_position_unique UNIQUE (connector_id, position) DEFERRABLE INITIALLY DEFERRED
);
CREATE UNIQUE INDEX routes_one_fallback ON routes (connector_id) WHERE is_fallback;

-- Templates, blocked addresses and settings share one shape: a key and the API object as JSON.
CREATE TABLE templates (
  name        text PRIMARY KEY,
  spec        jsonb NOT NULL,
  version     bigint NOT NULL DEFAULT 1,
  modified_at timestamptz NOT NULL DEFAULT now(),
  modified_by text NOT NULL
);

CREATE TABLE blocked_addresses (
  pattern     text PRIMARY KEY,
  spec        jsonb NOT NULL,
  version     bigint NOT NULL DEFAULT 1,
  modified_at timestamptz NOT NULL DEFAULT now(),
  modified_by text NOT NULL
);

-- Other services read a setting as spec->>'value'.
CREATE TABLE settings (
  key         text PRIMARY KEY,
  spec        jsonb NOT NULL,
  version     bigint NOT NULL DEFAULT 1,
  modified_at timestamptz NOT NULL DEFAULT now(),
  modified_by text NOT NULL
);

-- AES-256-GCM ciphertexts; `sealed` is "v1:<key id>:<base64 nonce|ciphertext|tag>" and the
-- associated data binds it to (connector, field), so rows cannot be swapped.
CREATE TABLE secrets (
  connector_id bigint NOT NULL REFERENCES connectors (id) ON DELETE CASCADE,
  field        text NOT NULL,
  key_id       text NOT NULL,
  sealed       text NOT NULL,
  updated_at   timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (connector_id, field)
);

CREATE TABLE audit_log (
  id      bigserial PRIMARY KEY,
  at      timestamptz NOT NULL DEFAULT now(),
  actor   text NOT NULL,
  kind    text NOT NULL,
  object  text NOT NULL,
  action  text NOT NULL,
  version bigint NOT NULL DEFAULT 0,
  before  jsonb,
  after   jsonb
);
CREATE INDEX audit_log_object ON audit_log (kind, object, id);

CREATE FUNCTION audit_log_is_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'audit_log is append-only';
END $$;
CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE ON audit_log
  FOR EACH STATEMENT EXECUTE FUNCTION audit_log_is_append_only();
