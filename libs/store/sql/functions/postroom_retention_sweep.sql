-- One batch of the retention sweep (issue #20; docs/privacy.md "Retention") for one connector:
-- at most `p_limit` of its decided messages stored more than `p_days` days ago that still hold
-- their bytes lose them (`raw` and `new_text` emptied, `content_removed_at` set), with the bodies made
-- from them: the body and new text of the work item a message created, and the bodies and files of the outbox
-- rows answering it that are done (sent, bounced, suppressed or cancelled; a failed one may
-- still be retried). Decisions, summaries (subject, addresses), work item references and
-- subjects stay. Pending messages are never taken.
--
-- Rows another transaction holds (the router deciding, a forget run, a second sweeper) are
-- skipped, not waited for: the sweep never blocks ingestion, and replicas can sweep at once
-- without a leader. A swept row leaves the candidates, so a repeated call takes the next rows
-- and a finished sweep finds nothing. Returns how many messages this call emptied, counted in
-- connector_state.retention_removed.
CREATE OR REPLACE FUNCTION postroom_retention_sweep(p_connector_id bigint, p_days integer,
                                                    p_limit integer)
RETURNS integer LANGUAGE plpgsql VOLATILE AS $$
DECLARE
  v_ids bigint[];
  n integer;
BEGIN
  IF p_days IS NULL OR p_days < 1 OR p_limit IS NULL OR p_limit < 1 OR p_limit > 10000 THEN
    RAISE EXCEPTION 'retention sweep: days must be 1 or more and limit 1-10000, not % and %',
      p_days, p_limit USING ERRCODE = '22023';
  END IF;
  SELECT coalesce(array_agg(id), '{}') INTO v_ids FROM (
    SELECT m.id FROM messages m
     WHERE m.connector_id = p_connector_id AND m.decision IS NOT NULL
       AND m.content_removed_at IS NULL AND m.forgotten_at IS NULL
       AND m.stored_at < now() - make_interval(days => p_days)
     ORDER BY m.stored_at LIMIT p_limit
       FOR UPDATE SKIP LOCKED) s;
  IF cardinality(v_ids) = 0 THEN
    RETURN 0;
  END IF;

  UPDATE messages m SET raw = '', new_text = '', content_removed_at = now()
   WHERE m.id = ANY (v_ids);
  GET DIAGNOSTICS n = ROW_COUNT;

  UPDATE work_items w SET body = '', new_text = ''
    FROM work_item_messages l
   WHERE l.message_id = ANY (v_ids) AND l.role = 'created' AND w.id = l.work_item_id
     AND (w.body <> '' OR w.new_text <> '');

  WITH done AS (
    SELECT o.id FROM outbox o
     WHERE o.message_id = ANY (v_ids) AND o.status IN ('sent', 'bounced', 'suppressed', 'cancelled')
  ), files AS (
    DELETE FROM outbox_attachments f USING done WHERE f.outbox_id = done.id
  )
  UPDATE outbox o SET body_text = '', body_html = ''
    FROM done WHERE o.id = done.id AND (o.body_text <> '' OR o.body_html <> '');

  UPDATE connector_state s SET retention_removed = s.retention_removed + n,
                               retention_swept_at = now()
   WHERE s.connector_id = p_connector_id;
  RETURN n;
END $$;
