-- `parcours migrate-store`: how far the copy of each table from a source store has gone, so an
-- interrupted copy resumes where it stopped (one row per source and table, written in the same
-- transaction as the rows it counts).
CREATE TABLE store_transfers (
    source TEXT NOT NULL,
    table_name TEXT NOT NULL,
    last_key TEXT,  -- JSON array: the primary key of the last row copied
    rows INTEGER NOT NULL DEFAULT 0,
    done INTEGER NOT NULL DEFAULT 0,
    updated_at REAL NOT NULL,
    PRIMARY KEY (source, table_name)
);
