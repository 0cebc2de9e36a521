-- Erasure on request (issue #20; docs/privacy.md): removes one person's mail, names and
-- addresses from messages, work items and the outbox, in batches the caller loops over.
--
-- A message matches when its summary names the address as sender (`from`) or recipient (`to`,
-- `cc`), case-insensitively, or it made or joined a work item the address requested. A message
-- the person sent (or requested through) loses its raw bytes (`forgotten_at` set; pending: decided
-- `failed`), its subject and names; one only naming them among recipients loses the address
-- alone. Decisions stay, with the address replaced by `forgotten:sha256:<hex of the lowercased
-- address>` in the summary, reason and trace. Work items they requested lose requester,
-- subject, body, fields and attachments; outbox rows to them or about those work items lose
-- addresses, subject, bodies, headers and files (queued ones are cancelled); their
-- suppressions keep only the hash.
--
-- One call handles the matching messages with id above `p_after_id`, at most `p_limit`; the
-- last batch (fewer than the limit) then handles work items, outbox rows and suppressions, so
-- an interrupted run still finds every message of the person's work items. A forgotten
-- row matches no more, so a re-run continues where an interrupted one stopped and a second run
-- finds nothing. The first call (`p_after_id` 0) writes the one audit entry: the counts per
-- table it is about to remove, never an address. `p_dry_run` counts everything and writes
-- nothing.
--
-- Returns {"counts": {...}, "remaining": on the first call (and a dry run) every matching
-- message, null later (counting is a scan of the table: once per run is enough),
-- "next_after_id": 0 when done, "hash": what replaces the address}. The hash is a plain SHA-256
-- (no pepper): an operator can tell whether an address was forgotten by hashing it, at the cost
-- that anyone holding a candidate address can do the same (docs/privacy.md).
CREATE OR REPLACE FUNCTION postroom_forget_address(p_address text, p_dry_run boolean,
                                                   p_after_id bigint, p_limit integer,
                                                   p_actor text)
RETURNS jsonb LANGUAGE plpgsql VOLATILE AS $$
DECLARE
  a text := lower(btrim(p_address));
  h text := 'forgotten:sha256:'
            || encode(sha256(convert_to(lower(btrim(p_address)), 'UTF8')), 'hex');
  -- The address as a case-insensitive regular expression, every special character escaped.
  pat text := postroom_forget_pattern(lower(btrim(p_address)));
  v_items bigint[];
  v_ids bigint[];
  v_sent bigint[];
  v_last boolean;
  v_remaining bigint;
  n bigint;
  c jsonb := '{}';
BEGIN
  IF a = '' OR position('@' IN a) = 0 THEN
    RAISE EXCEPTION 'address: must be an email address' USING ERRCODE = '22023';
  END IF;
  -- Work items the person requested: their messages are theirs too.
  SELECT coalesce(array_agg(w.id), '{}') INTO v_items FROM work_items w
   WHERE lower(w.requester_address) = a;

  IF p_dry_run OR p_after_id = 0 THEN
    c := postroom_forget_counts(a, pat, v_items);
    IF p_dry_run THEN
      RETURN jsonb_build_object('counts', c, 'remaining', (c ->> 'messages')::bigint,
                                'next_after_id', 0, 'hash', h);
    END IF;
    IF EXISTS (SELECT 1 FROM jsonb_each_text(c) WHERE value::bigint > 0) THEN
      INSERT INTO audit_log (actor, kind, object, action, after)
      VALUES (p_actor, 'privacy', h, 'forget',
              jsonb_build_object('removed', c, 'hash', h));
    END IF;
    v_remaining := (c ->> 'messages')::bigint;
    c := '{}';
  END IF;

  SELECT coalesce(array_agg(id ORDER BY id), '{}') INTO v_ids FROM (
    SELECT m.id FROM messages m
     WHERE m.id > p_after_id AND postroom_forget_matches(m, a, pat, v_items)
     ORDER BY m.id LIMIT p_limit) s;
  v_last := cardinality(v_ids) < p_limit;
  SELECT coalesce(array_agg(m.id), '{}') INTO v_sent FROM messages m
   WHERE m.id = ANY (v_ids) AND postroom_forget_theirs(m, a, v_items);

  -- Their own messages: no raw bytes, subject or names; decided, so no sweep routes them.
  UPDATE messages m SET raw = '', forgotten_at = now(), new_text = '',
      summary = coalesce(m.summary, '{}') || jsonb_build_object('subject', '', 'from_name', ''),
      decision = coalesce(m.decision, 'failed'),
      decision_reason = CASE WHEN m.decision IS NULL THEN 'forgotten on request'
                             ELSE m.decision_reason END,
      decided_at = coalesce(m.decided_at, now())
   WHERE m.id = ANY (v_sent);
  GET DIAGNOSTICS n = ROW_COUNT;
  c := c || jsonb_build_object('messages_sent', n);
  -- Every matching message: the address becomes the hash wherever the decision quotes it.
  UPDATE messages m SET
      summary = regexp_replace(m.summary::text, pat, h, 'g')::jsonb,
      trace = regexp_replace(m.trace::text, pat, h, 'g')::jsonb,
      decision_reason = regexp_replace(m.decision_reason, pat, h, 'g'),
      last_error = regexp_replace(m.last_error, pat, h, 'g'),
      new_text = regexp_replace(m.new_text, pat, h, 'g')
   WHERE m.id = ANY (v_ids);
  GET DIAGNOSTICS n = ROW_COUNT;
  c := c || jsonb_build_object('messages', n,
                               'messages_named', n - (c ->> 'messages_sent')::bigint);

  UPDATE work_items w SET requester_address = h, requester_name = '', subject = '', body = '',
      new_text = '', fields = '{}', attachments = '[]', updated_at = now()
   WHERE v_last AND w.id = ANY (v_items);
  GET DIAGNOSTICS n = ROW_COUNT;
  c := c || jsonb_build_object('work_items', n);

  WITH gone AS (
    SELECT o.id FROM outbox o
     WHERE v_last AND postroom_forget_outbox_matches(o, pat, v_items)
  ), files AS (
    DELETE FROM outbox_attachments f USING gone WHERE f.outbox_id = gone.id RETURNING 1
  ), rows AS (
    UPDATE outbox o SET to_address = regexp_replace(o.to_address, pat, h, 'g'),
        cc = regexp_replace(o.cc, pat, h, 'g'),
        ack_sender = regexp_replace(o.ack_sender, pat, h, 'g'),
        subject = '', body_text = '', body_html = '', headers = '{}',
        last_error = regexp_replace(o.last_error, pat, h, 'g'),
        bounce_diagnostic = regexp_replace(o.bounce_diagnostic, pat, h, 'g'),
        status = CASE WHEN o.status IN ('queued', 'sending') THEN 'cancelled' ELSE o.status END
      FROM gone WHERE o.id = gone.id RETURNING o.kind)
  SELECT c || jsonb_build_object(
           'outbox', (SELECT count(*) FROM rows WHERE kind = 'email'),
           'webhook_deliveries', (SELECT count(*) FROM rows WHERE kind = 'webhook'),
           'outbox_attachments', (SELECT count(*) FROM files))
    INTO c;

  IF v_last THEN
    UPDATE suppressions s SET address = h, diagnostic = '' WHERE s.address = a;
    GET DIAGNOSTICS n = ROW_COUNT;
  ELSE
    n := 0;
  END IF;
  c := c || jsonb_build_object('suppressions', n);
  RETURN jsonb_build_object('counts', c, 'remaining', v_remaining, 'hash', h,
                            'next_after_id',
                            CASE WHEN v_last THEN 0 ELSE v_ids[cardinality(v_ids)] END);
END $$;
