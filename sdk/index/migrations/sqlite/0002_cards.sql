-- Model cards fetched from operators' blob endpoints and verified against their on-chain SHA-256.
-- Content-addressed, so never rolled back: a reorg cannot change what a hash names.
CREATE TABLE cards (
    card_hash  TEXT   PRIMARY KEY,
    body       TEXT   NOT NULL,
    fetched_at BIGINT NOT NULL
);
