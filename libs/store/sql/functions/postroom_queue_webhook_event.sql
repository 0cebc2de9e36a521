-- Queues one webhook delivery (an outbox row of kind 'webhook') per enabled webhook that
-- subscribes to p_event, and returns how many it queued. Every writer of a change calls it
-- inside the change's own transaction, so the desk hears about a change exactly when it
-- commits (docs/webhooks.md lists the callers and the body's shape).
--
--   p_event         one of the events below; anything else raises 22023 (a caller's bug)
--   p_work_item_id  the work item the event is about, or NULL/0 (connector events)
--   p_connector_id  the connector it happened on, or NULL/0; the body names it
--   p_payload       the event's own fields, the body's "data"; over 64 KiB it is replaced by
--                   {"truncated": true} rather than refusing the caller's change
--
-- Order per work item: the rows of one (webhook, work item) are delivered in id order (the
-- sender claims a row only when no earlier one is still queued). Ids are drawn here, after the
-- work item's row lock, so two transactions about one work item queue in the order they commit.
CREATE OR REPLACE FUNCTION postroom_queue_webhook_event(
    p_event text, p_work_item_id bigint, p_connector_id bigint, p_payload jsonb)
RETURNS integer LANGUAGE plpgsql VOLATILE AS $$
DECLARE
  v_payload jsonb := coalesce(p_payload, '{}'::jsonb);
  v_work_item bigint := NULLIF(p_work_item_id, 0);
  v_count integer;
BEGIN
  IF p_event IS NULL OR p_event NOT IN ('work_item.created', 'work_item.appended',
      'message.spam_status_changed', 'reply.delivered', 'reply.failed', 'message.bounced',
      'connector.auto_disabled') THEN
    RAISE EXCEPTION 'unknown webhook event "%"', p_event USING ERRCODE = '22023';
  END IF;
  -- Most installations have no webhook: one probe of an empty table, nothing else.
  IF NOT EXISTS (SELECT 1 FROM webhooks w
                  WHERE coalesce((w.spec->>'enabled')::boolean, true)
                    AND w.spec->'events' ? p_event) THEN
    RETURN 0;
  END IF;
  IF octet_length(v_payload::text) > 65536 THEN
    v_payload := jsonb_build_object('truncated', true);
  END IF;
  IF v_work_item IS NOT NULL THEN
    -- Serialises the writers of one work item (commit_decision holds this lock already).
    PERFORM 1 FROM work_items WHERE id = v_work_item FOR NO KEY UPDATE;
  END IF;
  WITH hooks AS (
    SELECT w.name, coalesce(w.spec->>'url', '') AS url,
           nextval(pg_get_serial_sequence('outbox', 'id')) AS id
      FROM webhooks w
     WHERE coalesce((w.spec->>'enabled')::boolean, true) AND w.spec->'events' ? p_event
     ORDER BY w.name)
  INSERT INTO outbox (id, kind, reason, to_address, subject, body_text, work_item_id, webhook,
                      event)
  SELECT h.id, 'webhook', 'webhook', h.url, p_event,
         jsonb_build_object(
             'id', 'evt_' || h.id,
             'event', p_event,
             'created_at', to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'),
             'work_item_id', v_work_item,
             'connector', (SELECT c.name FROM connectors c WHERE c.id = p_connector_id),
             'data', v_payload)::text,
         v_work_item, h.name, p_event
    FROM hooks h;
  GET DIAGNOSTICS v_count = ROW_COUNT;
  RETURN v_count;
END $$;
