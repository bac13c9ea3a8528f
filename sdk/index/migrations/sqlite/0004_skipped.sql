-- Events the database refused for good (a value it cannot store, a broken constraint), each
-- with the database's words: the index moves on without them and says what it left out.
-- Rolled back with reorgs like everything else above the fork.
CREATE TABLE skipped_events (
    block_number BIGINT NOT NULL,
    tx_hash      TEXT   NOT NULL,
    log_index    BIGINT NOT NULL,
    kind         TEXT   NOT NULL,
    error        TEXT   NOT NULL,
    PRIMARY KEY (tx_hash, log_index)
);
CREATE INDEX skipped_events_block ON skipped_events (block_number);
