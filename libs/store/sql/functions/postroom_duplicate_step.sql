-- The duplicate rule, in this one place: a message is a duplicate of the first decided,
-- non-duplicate message of its connector with the same Message-ID and the same bytes (content
-- SHA-256). A message with that Message-ID but other bytes (line endings or headers changed on
-- the way, e.g. over IMAP) is not, and the reason says which message it was compared with.
--
-- The answer is the pipeline's duplicate step: duplicate_of (0: not a duplicate) and the trace
-- reason. postroom_commit_decision asks it under its lock on the Message-ID; the router's dry run
-- (ExplainRoute) asks it directly. InMemoryRouterStore, the core tests' store, mirrors it
-- (router_core_test runs the same cases over both and checks the reasons word for word).
--
-- LANGUAGE sql and STABLE, a single SELECT: the planner inlines it, so the lookup uses
-- messages_by_message_id with both columns in a generic plan (store_pg_test checks that).
CREATE OR REPLACE FUNCTION postroom_duplicate_step(
    p_connector_id bigint, p_msgid text, p_sha bytea, p_exclude bigint)
RETURNS TABLE (duplicate_of bigint, reason text)
LANGUAGE sql STABLE AS $$
  SELECT CASE WHEN c.same THEN c.id ELSE 0 END::bigint,
         CASE WHEN c.id IS NULL THEN format('no earlier copy of <%s>', p_msgid)
              WHEN c.same THEN format('same Message-ID <%s> and content as message %s (%s)',
                                      p_msgid, c.id, c.decision)
              ELSE format('message %s (%s) has Message-ID <%s> but other content (line endings '
                          'or headers changed on the way?): only an identical copy is a '
                          'duplicate', c.id, c.decision, p_msgid)
         END
    FROM (SELECT 1) AS one
    LEFT JOIN LATERAL (
      SELECT m.id, m.decision, coalesce(m.content_sha256 = p_sha, false) AS same
        FROM messages m
       WHERE m.connector_id = p_connector_id AND m.message_id = p_msgid AND m.message_id <> ''
         AND m.id <> p_exclude AND m.decision IS NOT NULL AND m.decision <> 'duplicate'
       ORDER BY coalesce(m.content_sha256 = p_sha, false) DESC, m.id
       LIMIT 1) AS c ON true
$$;
