-- An outgoing connector that fails pauses its sends: a server outage with a backlog of queued
-- rows used to count one consecutive error per row and auto-disable the connector within
-- seconds (found by scripts/reliability). Now a failure counts only when the connector was not
-- already paused; it pauses the connector's sends until this time (the sender's backoff for
-- that many consecutive errors), and rows of a paused connector are not claimed and use no
-- attempts. A success, `enable connector` or a passing connection test ends the pause.
ALTER TABLE connector_state ADD COLUMN outgoing_paused_until timestamptz;
