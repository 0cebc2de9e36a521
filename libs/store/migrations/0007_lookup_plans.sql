-- Query plans that stay right while a fresh database fills.
--
-- No query reads messages by (connector_id, decided_at): the index cost a write per decision,
-- and on a fresh table the planner picked it for the Message-ID lookups below.
DROP INDEX messages_by_decided_at;

-- postroom_commit_decision as in 0005 except for the duplicate check, which now runs as
-- dynamic SQL: planned with its values on every call. PL/pgSQL caches a generic plan after a
-- few calls; on a fresh database that plan was made while `messages` was nearly empty, used an
-- index on connector_id alone, and so scanned every message of the connector per decision as a
-- first backfill grew the table (measured in bench/fetcher: 1.2 ms of a 1.8 ms commit at
-- 6,000 messages) until autovacuum's first ANALYZE replaced it. Forcing custom plans for the
-- whole function cost 0.18 ms a call more than planning this one statement.

-- The function's body no longer stands here: it lives once, in
-- libs/store/sql/functions/postroom_commit_decision.sql, which the migrator applies after the
-- numbered migrations and again whenever the file changes (docs/schema.md). Databases that ran
-- this migration earlier got the version of that time; the function file has replaced it.
SELECT 1;
