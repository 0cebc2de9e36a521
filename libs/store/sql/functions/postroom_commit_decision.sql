-- One routing decision in one round trip. The router used to write a decision as a
-- transaction of six statements (BEGIN, locks, duplicate check, insert, acknowledgement,
-- COMMIT); measured under 8 concurrent callers most of PostgreSQL's CPU went to per-statement
-- overhead and the context switches of those round trips. This function does the same steps,
-- in the same order, as a single statement, so the caller runs it without an explicit
-- transaction: the implicit transaction makes it atomic.
--
-- Ids come from the caller (drawn from the sequences in blocks), so the acknowledgement can be
-- rendered (it names the work item's reference and the message id) before the call.
--
-- outcome: ok | replayed (the fetch key was decided already; message_id is that message) |
--          pending (the fetch key is stored but undecided; decide message_id instead) |
--          not_found | aborted (detail: the decision the message has now) |
--          unverified (p_verify: the row is not what the caller assumed; nothing written)
-- ack:     '' | queued | already_queued | rate_limited | work_item_rate_limited |
--          connector_rate_limited | suppressed_address
-- detail of ok: '' or the duplicate step's reason when the commit's duplicate check changed the
--          trace (postroom_duplicate_step, postroom_trace_with_step); duplicate_of then says
--          whether it decided
-- A missing work item to append to raises SQLSTATE P0002 (nothing is written).
--
-- p_ack_policy (migration 0012), a JSON object: sender_key (the normalised address the
-- per-sender limit counts and locks: p_ack_limit acknowledgements since p_ack_since_ms),
-- connector_limit and connector_since_ms (the cap per incoming connector), work_item_limit and
-- work_item_window_min (automatic mails about one work item since p_ack_since_ms),
-- suppressed / detail (why the router asked for none), and from_address (the ack's From when the
-- mail was sent to an alias; absent: the outgoing connector's address). The outcome lands in
-- messages.ack_outcome. An acknowledgement is asked for a created work item, or for a message
-- appended to one (the connector's acknowledge_follow_ups).
--
-- The duplicate check is a static statement: its generic plan takes messages_by_message_id at
-- every table size (checked with plan_cache_mode = force_generic_plan on an empty table and at
-- 20 to 8,000 rows) now that no (connector_id, decided_at) index tempts the planner (0007
-- dropped it); planning it dynamically on every decision cost 0.08 ms of PostgreSQL time.
--
-- p_verify: the router decides a stored message from the bytes the fetcher sent along, without
-- reading its row first (that read was 7 % of the router's CPU and a round trip per message),
-- and the function checks under the row lock that the row is what the router assumed: same
-- connector, folder and queue hint, a content hash equal to the sent bytes' hash, not
-- truncated, no manual spam status. Otherwise it writes nothing and answers 'unverified'; the
-- router then reads the row and decides again.
--
-- p_new_text, p_wi_template (migration 0021): the message's new text (without the quoted
-- history), kept on a message that creates or is appended to a work item and on the work item
-- it creates; the route's work item template of a created one. Both go in the webhook payload.
CREATE OR REPLACE FUNCTION postroom_commit_decision(
    p_id bigint, p_insert boolean, p_expected text,
    p_connector_id bigint, p_fetch_key text, p_folder text, p_queue_hint text,
    p_received_ms double precision, p_size bigint, p_raw bytea, p_truncated boolean,
    p_msgid text, p_sha bytea, p_thread_root text, p_summary text,
    p_decision text, p_step text, p_route text, p_reason text, p_trace text,
    p_duplicate_of bigint, p_spam_status text, p_check_duplicate boolean,
    p_create boolean, p_wi_id bigint, p_reference text, p_wi_source text, p_wi_queue text,
    p_wi_type text, p_wi_priority text, p_requester_address text, p_requester_name text,
    p_wi_subject text, p_wi_body text, p_wi_fields text, p_wi_attachments text,
    p_wi_test_mode boolean, p_append_to bigint,
    p_ack boolean, p_ack_connector bigint, p_ack_reason text, p_ack_to text, p_ack_subject text,
    p_ack_text text, p_ack_html text, p_ack_headers text, p_ack_dedupe text,
    p_ack_since_ms double precision, p_ack_limit integer, p_verify boolean, p_ack_policy text,
    p_new_text text, p_wi_template text)
RETURNS TABLE (outcome text, message_id bigint, work_item_id bigint, reference text,
               duplicate_of bigint, ack text, detail text)
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
  v_id bigint := p_id;
  v_conn bigint := p_connector_id;
  v_current text;
  v_dup bigint;
  v_decision text := p_decision;
  v_step text := p_step;
  v_route text := p_route;
  v_reason text := p_reason;
  v_duplicate_of bigint := NULLIF(p_duplicate_of, 0);
  v_create boolean := p_create;
  v_append bigint := NULLIF(p_append_to, 0);
  v_wi bigint;
  v_ref text := '';
  v_ack boolean;
  v_ack_state text := '';
  v_sent bigint;
  v_stored_sha bytea;
  v_truncated boolean;
  v_spam text;
  v_folder text;
  v_queue_hint text;
  v_dup_reason text;
  v_trace text := p_trace;
  v_detail text := '';
  -- Acknowledgement limits and outcome (0012).
  v_policy jsonb := coalesce(NULLIF(p_ack_policy, '')::jsonb, '{}'::jsonb);
  v_sender text := coalesce(NULLIF(v_policy->>'sender_key', ''), p_ack_to);
  v_outbox_id bigint;
  v_ack_detail text := '';
BEGIN
  IF NOT p_insert THEN
    SELECT coalesce(m.decision, ''), m.connector_id, m.content_sha256, m.truncated,
           coalesce(m.spam_status, ''), m.folder, m.queue_hint
      INTO v_current, v_conn, v_stored_sha, v_truncated, v_spam, v_folder, v_queue_hint
      FROM messages m WHERE m.id = p_id FOR UPDATE;
    IF NOT FOUND THEN
      RETURN QUERY SELECT 'not_found'::text, p_id, 0::bigint, ''::text, 0::bigint, ''::text, ''::text;
      RETURN;
    END IF;
    -- Decided from the bytes the caller sent, without reading the row first: write only if
    -- the row is what the caller assumed.
    IF p_verify AND (v_conn <> p_connector_id OR v_truncated OR v_stored_sha IS NULL
                     OR v_stored_sha <> p_sha OR v_spam IN ('manual_spam', 'manual_clean')
                     OR v_folder <> p_folder OR v_queue_hint <> p_queue_hint) THEN
      RETURN QUERY SELECT 'unverified'::text, p_id, 0::bigint, ''::text, 0::bigint, ''::text,
          ''::text;
      RETURN;
    END IF;
    IF v_current <> p_expected THEN
      RETURN QUERY SELECT 'aborted'::text, p_id, 0::bigint, ''::text, 0::bigint, ''::text, v_current;
      RETURN;
    END IF;
  END IF;
  v_ack := p_ack AND (v_create OR v_append IS NOT NULL);
  -- Locks first, always in the order (Message-ID, ack address): no deadlocks. Each later
  -- statement of this VOLATILE function takes a fresh snapshot, so the duplicate check sees
  -- every copy committed by whoever held the lock before.
  IF p_check_duplicate AND p_msgid <> '' THEN
    PERFORM pg_advisory_xact_lock(v_conn::int, hashtext(p_msgid));
  END IF;
  IF v_ack THEN
    PERFORM pg_advisory_xact_lock(hashtext('ack:' || v_sender));
  END IF;
  IF p_check_duplicate AND p_msgid <> '' THEN
    SELECT s.duplicate_of, s.reason INTO v_dup, v_dup_reason
      FROM postroom_duplicate_step(v_conn, p_msgid, p_sha, v_id) s;
    IF v_dup <> 0 THEN
      v_decision := 'duplicate';
      v_step := 'duplicate';
      v_route := '';
      v_reason := v_dup_reason;
      v_duplicate_of := v_dup;
      v_create := false;
      v_append := NULL;
      v_ack := false;
    ELSE
      v_dup := NULL;
    END IF;
    -- The router wrote its duplicate step before this check. Where the check found otherwise
    -- (a copy committed meanwhile, a copy with other bytes), the stored trace says what it found
    -- and `detail` returns it: the router changes its answer the same way.
    IF p_trace <> '' AND strpos(p_trace, to_json(v_dup_reason)::text) = 0 THEN
      v_trace := postroom_trace_with_step(p_trace::jsonb, 'duplicate', v_dup IS NOT NULL,
                                          v_dup_reason)::text;
      v_detail := v_dup_reason;
    END IF;
  END IF;

  v_wi := CASE WHEN v_create THEN p_wi_id ELSE v_append END;

  IF p_insert THEN
    INSERT INTO messages AS m (id, connector_id, fetch_key, folder, queue_hint, received_at,
        size_bytes, raw, truncated, message_id, content_sha256, thread_root, summary, decision,
        decided_at, decision_step, decision_route, decision_reason, trace, work_item_id,
        duplicate_of, spam_status, new_text)
    VALUES (p_id, v_conn, p_fetch_key, p_folder, p_queue_hint,
        to_timestamp(p_received_ms / 1000), p_size, p_raw, p_truncated, p_msgid,
        NULLIF(p_sha, ''::bytea), p_thread_root, NULLIF(p_summary, '')::jsonb, v_decision, now(),
        v_step, v_route, v_reason, NULLIF(v_trace, '')::jsonb, v_wi, v_duplicate_of,
        NULLIF(p_spam_status, ''), CASE WHEN v_wi IS NOT NULL THEN p_new_text ELSE '' END)
    ON CONFLICT (connector_id, fetch_key) DO NOTHING;
    IF NOT FOUND THEN
      SELECT m.id, coalesce(m.decision, '') INTO v_id, v_current
        FROM messages m WHERE m.connector_id = v_conn AND m.fetch_key = p_fetch_key;
      IF NOT FOUND THEN
        RAISE EXCEPTION 'message % vanished while routing; retry', p_fetch_key
          USING ERRCODE = '40001';
      END IF;
      RETURN QUERY SELECT CASE WHEN v_current <> '' THEN 'replayed' ELSE 'pending' END,
          v_id, 0::bigint, ''::text, 0::bigint, ''::text, v_current;
      RETURN;
    END IF;
  END IF;

  IF v_append IS NOT NULL THEN
    -- After the message insert, so a replay touches no work item; a missing one rolls back all.
    UPDATE work_items w SET updated_at = now() WHERE w.id = v_append RETURNING w.reference INTO v_ref;
    IF NOT FOUND THEN
      RAISE EXCEPTION 'work item % does not exist', v_append USING ERRCODE = 'P0002';
    END IF;
  END IF;
  IF v_create THEN
    INSERT INTO work_items (id, connector_id, reference, source, queue, type, priority,
        requester_address, requester_name, subject, body, fields, attachments, test_mode,
        new_text, template)
    VALUES (p_wi_id, v_conn, p_reference, p_wi_source, p_wi_queue, p_wi_type, p_wi_priority,
        p_requester_address, p_requester_name, p_wi_subject, p_wi_body, p_wi_fields::jsonb,
        p_wi_attachments::jsonb, p_wi_test_mode, p_new_text, p_wi_template);
    v_ref := p_reference;
  END IF;
  IF v_wi IS NOT NULL THEN
    INSERT INTO work_item_messages (work_item_id, message_id, role)
    VALUES (v_wi, v_id, CASE WHEN v_create THEN 'created' ELSE 'appended' END);
    -- Webhooks (docs/webhooks.md): in this transaction, after the work item's row lock.
    PERFORM postroom_queue_webhook_event(
        CASE WHEN v_create THEN 'work_item.created' ELSE 'work_item.appended' END, v_wi, v_conn,
        jsonb_strip_nulls(jsonb_build_object(
            'reference', v_ref, 'message_id', v_id, 'route', NULLIF(v_route, ''),
            'queue', NULLIF(p_wi_queue, ''), 'subject', NULLIF(left(p_wi_subject, 998), ''),
            'requester_address', NULLIF(p_requester_address, ''),
            'test_mode', CASE WHEN v_create THEN p_wi_test_mode END,
            -- 0021: at most 8,192 characters (32 KiB), so the payload stays under the 64 KiB
            -- that would replace it by {"truncated": true}; GetWorkItem has it whole.
            'new_text', NULLIF(left(p_new_text, 8192), ''),
            'new_text_truncated', CASE WHEN length(p_new_text) > 8192 THEN true END,
            'template', CASE WHEN v_create THEN NULLIF(p_wi_template, '') END)));
  END IF;

  IF NOT p_insert THEN
    UPDATE messages m SET decision = v_decision, decided_at = now(), decision_step = v_step,
        decision_route = v_route, decision_reason = v_reason,
        trace = NULLIF(v_trace, '')::jsonb, summary = NULLIF(p_summary, '')::jsonb,
        work_item_id = v_wi, duplicate_of = v_duplicate_of,
        spam_status = CASE WHEN m.spam_status IN ('manual_spam', 'manual_clean')
                           THEN m.spam_status ELSE NULLIF(p_spam_status, '') END,
        message_id = p_msgid, content_sha256 = NULLIF(p_sha, ''::bytea),
        thread_root = p_thread_root, last_error = '',
        new_text = CASE WHEN v_wi IS NOT NULL THEN p_new_text ELSE '' END
     WHERE m.id = v_id;
  END IF;

  -- Bounces (docs/router.md "Bounces"): a bounce tied to an outbox row marks it, and a
  -- permanent one suppresses the address; an acknowledgement to a suppressed address is not
  -- queued.
  IF v_decision = 'bounce' AND p_summary <> '' THEN
    PERFORM postroom_record_bounce(v_id, p_summary::jsonb -> 'bounce');
  END IF;
  IF v_ack AND v_wi IS NOT NULL AND postroom_address_suppressed(p_ack_connector, p_ack_to) THEN
    v_ack_state := 'suppressed_address';
    v_ack_detail := format('%s is on the suppression list of the outgoing connector (it '
                           'bounced permanently)', p_ack_to);
  END IF;

  IF v_ack AND v_wi IS NOT NULL AND v_ack_state = '' THEN
    -- Counting stops at the limit: a busy sender's whole hour need not be read.
    SELECT count(*) INTO v_sent FROM (
      SELECT 1 FROM outbox o
       WHERE o.reason = 'ack' AND o.ack_sender = v_sender
         AND o.created_at >= to_timestamp(p_ack_since_ms / 1000)
       LIMIT p_ack_limit) recent;
    IF v_sent >= p_ack_limit THEN
      v_ack_state := 'rate_limited';
      v_ack_detail := format('%s already got %s since %s', v_sender, v_sent,
                             to_timestamp(p_ack_since_ms / 1000));
    ELSIF coalesce((v_policy->>'work_item_limit')::int, 0) > 0 AND (
        -- Exact under concurrency: an append holds the work item's row lock (UPDATE above),
        -- and a created work item is this transaction's own.
        SELECT count(*) FROM (
          SELECT 1 FROM outbox o
           WHERE o.reason = 'ack' AND o.work_item_id = v_wi
             AND o.created_at >= to_timestamp(p_ack_since_ms / 1000)
           LIMIT (v_policy->>'work_item_limit')::int) recent)
        >= (v_policy->>'work_item_limit')::int THEN
      v_ack_state := 'work_item_rate_limited';
      v_ack_detail := format('work item %s already had %s automatic replies in %s minutes', v_ref,
                             v_policy->>'work_item_limit', v_policy->>'work_item_window_min');
    ELSIF (v_policy->>'connector_limit') IS NOT NULL THEN
      -- The cap per incoming connector is not locked: replicas deciding at once may pass it
      -- by one acknowledgement each.
      SELECT count(*) INTO v_sent FROM (
        SELECT 1 FROM outbox o
         WHERE o.reason = 'ack' AND o.ack_connector_id = v_conn
           AND o.created_at >= to_timestamp((v_policy->>'connector_since_ms')::float8 / 1000)
         LIMIT (v_policy->>'connector_limit')::int) recent;
      IF v_sent >= (v_policy->>'connector_limit')::int THEN
        v_ack_state := 'connector_rate_limited';
        v_ack_detail := format('the connector sent %s since %s', v_sent,
            to_timestamp((v_policy->>'connector_since_ms')::float8 / 1000));
      END IF;
    END IF;
    IF v_ack_state = '' THEN
      INSERT INTO outbox (connector_id, kind, reason, to_address, subject, body_text, body_html,
          headers, work_item_id, message_id, dedupe_key, ack_sender, ack_connector_id,
          from_address)
      VALUES (NULLIF(p_ack_connector, 0), 'email', p_ack_reason, p_ack_to, p_ack_subject,
          p_ack_text, p_ack_html, p_ack_headers::jsonb, v_wi, v_id, p_ack_dedupe, v_sender,
          v_conn, coalesce(v_policy->>'from_address', ''))
      ON CONFLICT (dedupe_key) DO NOTHING
      RETURNING id INTO v_outbox_id;
      v_ack_state := 'queued';
      IF v_outbox_id IS NULL THEN
        -- Decided again (reprocess): the first decision's acknowledgement is the outcome.
        v_ack_state := 'already_queued';
        SELECT o.id INTO v_outbox_id FROM outbox o WHERE o.dedupe_key = p_ack_dedupe;
      END IF;
    END IF;
  END IF;

  -- The acknowledgement's outcome on the message (0012): queued with its outbox row, or
  -- suppressed and why (by this function's limits, or the router's reason); NULL when none
  -- was asked for.
  IF v_wi IS NOT NULL AND (v_ack OR coalesce(v_policy->>'suppressed', '') <> '') THEN
    UPDATE messages m SET ack_outcome = CASE
        WHEN v_outbox_id IS NOT NULL THEN
          jsonb_build_object('state', 'queued', 'outbox_id', v_outbox_id)
        WHEN v_ack_state <> '' THEN
          jsonb_build_object('state', 'suppressed', 'reason', v_ack_state, 'detail', v_ack_detail)
        ELSE jsonb_build_object('state', 'suppressed', 'reason', v_policy->>'suppressed',
                                'detail', coalesce(v_policy->>'detail', ''))
      END
     WHERE m.id = v_id;
  END IF;

  RETURN QUERY SELECT 'ok'::text, v_id, coalesce(v_wi, 0), v_ref, coalesce(v_dup, 0),
      v_ack_state, v_detail;
END;
$$;
