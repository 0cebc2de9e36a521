-- What a bounce the router tied to an outbox row writes, called by postroom_commit_decision in
-- the bounce decision's own transaction. `p_bounce` is the "bounce" object of the message's
-- summary (services/router/core/bounce.cc): outbox_id (0: not tied to a row), smtp_message_id
-- (the row's Message-ID as the router found it in the bounce), status, diagnostic and kind
-- (permanent | transient | unknown).
--
-- The row is marked only when its stored Message-ID is the one the bounce names (the router's
-- lookup checked it too; this is the check that holds under concurrency) and it was sent; a
-- permanent bounce never downgrades to a later transient one. A permanent bounce adds the row's
-- own address (never one named by the bounce) to the suppression list of the connector that
-- sent it, once: a repeated or reprocessed bounce changes nothing.
--
-- Returns the kind recorded, or '' when nothing was written.
CREATE OR REPLACE FUNCTION postroom_record_bounce(p_message_id bigint, p_bounce jsonb)
RETURNS text LANGUAGE plpgsql VOLATILE AS $$
DECLARE
  v_outbox bigint := coalesce((p_bounce ->> 'outbox_id')::bigint, 0);
  v_kind text := coalesce(p_bounce ->> 'kind', '');
  v_status text := left(coalesce(p_bounce ->> 'status', ''), 32);
  v_diagnostic text := left(coalesce(p_bounce ->> 'diagnostic', ''), 1000);
  v_connector bigint;
  v_address text;
  v_work_item bigint;
  v_previous bigint;
BEGIN
  IF v_outbox = 0 OR v_kind NOT IN ('permanent', 'transient', 'unknown') THEN
    RETURN '';
  END IF;
  -- The bounce that marked the row before (a repeated or reprocessed bounce is no new event).
  SELECT o.bounce_message_id INTO v_previous FROM outbox o WHERE o.id = v_outbox FOR UPDATE;
  UPDATE outbox o SET status = 'bounced', bounce_status = v_status,
      bounce_diagnostic = v_diagnostic, bounced_at = now(), bounce_message_id = p_message_id
   WHERE o.id = v_outbox AND o.smtp_message_id = p_bounce ->> 'smtp_message_id'
     AND o.smtp_message_id <> '' AND o.status IN ('sent', 'bounced')
     AND NOT (o.status = 'bounced' AND left(o.bounce_status, 1) = '5' AND v_kind <> 'permanent')
  RETURNING o.connector_id, lower(btrim(o.to_address)), o.work_item_id
       INTO v_connector, v_address, v_work_item;
  IF NOT FOUND THEN
    RETURN '';
  END IF;
  -- The webhooks hear of it in this transaction (docs/webhooks.md), once per bounce message.
  IF v_previous IS DISTINCT FROM p_message_id THEN
    PERFORM postroom_queue_webhook_event('message.bounced', v_work_item, v_connector,
        jsonb_build_object('outbox_id', v_outbox, 'recipient', v_address, 'kind', v_kind,
                           'status', v_status, 'diagnostic', v_diagnostic,
                           'bounce_message_id', p_message_id,
                           'suppressed', v_kind = 'permanent'));
  END IF;
  IF v_kind = 'permanent' AND v_connector IS NOT NULL AND v_address <> '' THEN
    INSERT INTO suppressions (connector_id, address, reason, dsn_status, diagnostic,
                              source_outbox_id, source_message_id)
    VALUES (v_connector, v_address, 'bounce', v_status, v_diagnostic, v_outbox, p_message_id)
    ON CONFLICT (connector_id, address) DO NOTHING;
  END IF;
  RETURN v_kind;
END;
$$;
