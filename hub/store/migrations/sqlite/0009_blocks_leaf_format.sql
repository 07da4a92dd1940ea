-- The leaf format a block was sealed with (hub.ledger.merkle): 1 for blocks sealed before the
-- events' link to a learner was sealed too, 2 since.
ALTER TABLE blocks ADD COLUMN leaf_format integer NOT NULL DEFAULT 1;
