-- `parcours migrate-store`: how far the copy of each table from a source store has gone, so an
-- interrupted copy resumes where it stopped (one row per source and table, written in the same
-- transaction as the rows it counts).
CREATE TABLE store_transfers (
    source text NOT NULL,
    table_name text NOT NULL,
    last_key text,  -- JSON array: the primary key of the last row copied
    rows bigint NOT NULL DEFAULT 0,
    done boolean NOT NULL DEFAULT false,
    updated_at double precision NOT NULL,
    PRIMARY KEY (source, table_name)
);
