-- Whether matching message `m` (postroom_forget_matches) is the person's own, losing its raw
-- bytes rather than only the address: they sent it, it made or joined one of the work items
-- `p_items` they requested, or it is pending (read only through its raw bytes).
CREATE OR REPLACE FUNCTION postroom_forget_theirs(m messages, p_address text, p_items bigint[])
RETURNS boolean LANGUAGE sql STABLE AS $$
  SELECT coalesce(lower(m.summary ->> 'from') = p_address, false)
      OR coalesce(m.work_item_id = ANY (p_items), false)
      OR m.decision IS NULL
$$;
