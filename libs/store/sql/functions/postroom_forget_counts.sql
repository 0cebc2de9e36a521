-- What postroom_forget_address would remove for the lowercased address `p_address` (its
-- pattern `p_pattern`, the work items `p_items` it requested), as counts per table: the dry run
-- and the audit entry.
CREATE OR REPLACE FUNCTION postroom_forget_counts(p_address text, p_pattern text,
                                                  p_items bigint[])
RETURNS jsonb LANGUAGE plpgsql STABLE AS $$
DECLARE
  v_all bigint;
  v_sent bigint;
BEGIN
  SELECT count(*), count(*) FILTER (WHERE postroom_forget_theirs(m, p_address, p_items))
    INTO v_all, v_sent
    FROM messages m WHERE postroom_forget_matches(m, p_address, p_pattern, p_items);
  RETURN jsonb_build_object(
    'messages', v_all, 'messages_sent', v_sent, 'messages_named', v_all - v_sent,
    'work_items', cardinality(p_items),
    'outbox', (SELECT count(*) FROM outbox o
                WHERE o.kind = 'email' AND postroom_forget_outbox_matches(o, p_pattern, p_items)),
    'webhook_deliveries', (SELECT count(*) FROM outbox o
                WHERE o.kind = 'webhook' AND postroom_forget_outbox_matches(o, p_pattern, p_items)),
    'outbox_attachments', (SELECT count(*) FROM outbox_attachments f
                JOIN outbox o ON o.id = f.outbox_id
                WHERE postroom_forget_outbox_matches(o, p_pattern, p_items)),
    'suppressions', (SELECT count(*) FROM suppressions s WHERE s.address = p_address));
END $$;
