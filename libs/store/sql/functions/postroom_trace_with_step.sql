-- A stored trace ({"steps": [{step, decided, reason}, ...]}) with its first step named p_step
-- replaced; when that step now decides, the steps after it go, as the pipeline stops at a
-- deciding step. postroom_commit_decision uses it when its own duplicate check finds other than
-- the trace the router wrote (a copy committed meanwhile, or one with other bytes); the router
-- makes the same change to its answer (services/router/core/steps/duplicate.cc), so the answer
-- is the decision as stored.
CREATE OR REPLACE FUNCTION postroom_trace_with_step(
    p_trace jsonb, p_step text, p_decided boolean, p_reason text)
RETURNS jsonb
LANGUAGE sql IMMUTABLE AS $$
  SELECT jsonb_build_object('steps', coalesce(jsonb_agg(
           CASE WHEN e.n = f.n
                THEN jsonb_build_object('step', p_step, 'decided', p_decided, 'reason', p_reason)
                ELSE e.s END ORDER BY e.n), '[]'::jsonb))
    FROM jsonb_array_elements(p_trace->'steps') WITH ORDINALITY AS e(s, n),
         (SELECT min(x.n) AS n
            FROM jsonb_array_elements(p_trace->'steps') WITH ORDINALITY AS x(s, n)
           WHERE x.s->>'step' = p_step) AS f
   WHERE NOT p_decided OR f.n IS NULL OR e.n <= f.n
$$;
