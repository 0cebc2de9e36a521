-- Erasure on request (issue #20, `postroomctl forget address`): a message whose sender asked to
-- be forgotten keeps its row and decision, without raw bytes; this marks why they are gone, so
-- readers answer "forgotten on request" and no reprocessing routes the empty row again.
ALTER TABLE messages ADD COLUMN forgotten_at timestamptz;
