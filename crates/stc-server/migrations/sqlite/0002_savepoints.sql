-- Pause and stop-with-savepoint: until this time (ms since the epoch, database clock) the node
-- that ran the instance is taking its savepoint; 0 when none is being taken. A resume waits for
-- it, so the new worker restores from that savepoint rather than an older checkpoint.
ALTER TABLE instances ADD COLUMN savepoint_deadline INTEGER NOT NULL DEFAULT 0;
