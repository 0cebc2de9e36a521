-- Whether message `m` is one postroom_forget_address removes the lowercased address `p_address`
-- (as `p_pattern`, postroom_forget_pattern) from: its summary names it as sender or recipient,
-- it made or joined one of the work items `p_items` the address requested, or it is still
-- pending (no summary yet) and its raw bytes name the address (the pending set is small: the
-- sweep routes it within seconds). A forgotten message matches no more, so re-runs continue.
CREATE OR REPLACE FUNCTION postroom_forget_matches(m messages, p_address text, p_pattern text,
                                                   p_items bigint[])
RETURNS boolean LANGUAGE sql STABLE AS $$
  SELECT m.forgotten_at IS NULL AND (
         coalesce(lower(m.summary ->> 'from') = p_address, false)
      OR coalesce(m.work_item_id = ANY (p_items), false)
      OR EXISTS (SELECT 1 FROM jsonb_array_elements_text(
                   CASE WHEN jsonb_typeof(m.summary -> 'to') = 'array' THEN m.summary -> 'to'
                        ELSE '[]' END ||
                   CASE WHEN jsonb_typeof(m.summary -> 'cc') = 'array' THEN m.summary -> 'cc'
                        ELSE '[]' END) e
                  WHERE lower(e) = p_address)
      OR (m.decision IS NULL
          AND encode(m.raw, 'escape') ~ p_pattern))
$$;
