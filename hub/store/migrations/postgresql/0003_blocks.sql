CREATE TABLE blocks (
    idx bigint PRIMARY KEY,
    first_seq bigint NOT NULL,
    last_seq bigint NOT NULL,
    count integer NOT NULL,
    root text NOT NULL,
    prev_hash text NOT NULL,
    sealed_at text NOT NULL,
    hash text NOT NULL,
    leaves bytea,
    anchor text
);
CREATE UNIQUE INDEX blocks_last_seq ON blocks(last_seq);
