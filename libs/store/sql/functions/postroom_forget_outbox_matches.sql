-- Whether outbox row `o` is one postroom_forget_address scrubs: mail to or copied to the address
-- (`p_pattern`, postroom_forget_pattern), a webhook delivery whose JSON names it, or either
-- about one of the work items `p_items` the address requested.
CREATE OR REPLACE FUNCTION postroom_forget_outbox_matches(o outbox, p_pattern text,
                                                          p_items bigint[])
RETURNS boolean LANGUAGE sql STABLE AS $$
  SELECT coalesce(o.work_item_id = ANY (p_items), false)
      OR o.to_address ~ p_pattern OR o.cc ~ p_pattern
      OR (o.kind = 'webhook' AND o.body_text ~ p_pattern)
$$;
