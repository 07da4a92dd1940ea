CREATE TABLE blocks (
    idx INTEGER PRIMARY KEY,
    first_seq INTEGER NOT NULL,
    last_seq INTEGER NOT NULL,
    count INTEGER NOT NULL,
    root TEXT NOT NULL,
    prev_hash TEXT NOT NULL,
    sealed_at TEXT NOT NULL,
    hash TEXT NOT NULL,
    leaves BLOB,
    anchor TEXT
);
CREATE UNIQUE INDEX blocks_last_seq ON blocks(last_seq);
