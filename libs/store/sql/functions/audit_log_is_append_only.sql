-- Refuses UPDATE and DELETE (and, from 0010, TRUNCATE) of audit_log, for the owner too:
-- the audit history is append-only. Triggers in 0001 and 0010.
CREATE OR REPLACE FUNCTION audit_log_is_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'audit_log is append-only';
END $$;
