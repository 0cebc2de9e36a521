-- Whether automatic mail to `p_address` through outgoing connector `p_connector` (0 or NULL:
-- the system default, as the sender binds such rows) is suppressed: the address bounced
-- permanently from that connector (postroom_record_bounce). One rule for the router's
-- acknowledgement (postroom_commit_decision, ExplainRoute) and the sender's claim.
CREATE OR REPLACE FUNCTION postroom_address_suppressed(p_connector bigint, p_address text)
RETURNS boolean LANGUAGE sql STABLE AS $$
  SELECT EXISTS (
    SELECT 1 FROM suppressions s
     WHERE s.connector_id = coalesce(NULLIF(p_connector, 0),
                                     (SELECT c.id FROM connectors c WHERE c.system_default))
       AND s.address = lower(btrim(p_address)))
$$;
