-- The new text of a reply and the route's work item template (issue #20, docs/router.md
-- "Work items").
--
-- new_text: what the sender wrote in this message, without the quoted history and the
-- signature (libs/mime/new_text.h). A work item's is its first message's; every message that
-- created or was appended to a work item keeps its own. Bounded like work_items.body: the
-- router cuts both at 256 KiB (at a UTF-8 boundary), and the check holds whoever writes.
-- '' for messages decided before 0021 and for decisions that touch no work item.
ALTER TABLE messages
  ADD COLUMN new_text text NOT NULL DEFAULT '' CHECK (octet_length(new_text) <= 262144);
ALTER TABLE work_items
  ADD COLUMN new_text text NOT NULL DEFAULT '' CHECK (octet_length(new_text) <= 262144),
  -- The route action's `template` (docs/routes.md): the service desk form to create the item
  -- from; a name as the rules validate it. '': none.
  ADD COLUMN template text NOT NULL DEFAULT '' CHECK (length(template) <= 200);

-- postroom_commit_decision gained p_new_text and p_wi_template (53 parameters); the
-- 51-parameter one goes.
DROP FUNCTION IF EXISTS postroom_commit_decision(
    bigint, boolean, text, bigint, text, text, text, double precision, bigint, bytea, boolean,
    text, bytea, text, text, text, text, text, text, text, bigint, text, boolean, boolean,
    bigint, text, text, text, text, text, text, text, text, text, text, text, boolean, bigint,
    boolean, bigint, text, text, text, text, text, text, text, double precision, integer,
    boolean, text);
