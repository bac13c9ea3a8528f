-- ModelMart indexer schema (Postgres). Kept in step with ../sqlite/0001_init.sql: same tables,
-- columns and indexes; only the type names differ.
--
-- State tables are temporal: every change inserts a new version row whose `block_number` is the
-- block of the event that caused it, and stamps the previous version's `superseded_at` with that
-- block. The current state is `superseded_at IS NULL`. A reorg rollback to block A is therefore
-- two statements per table: delete versions with block_number > A, and clear superseded_at > A.

CREATE TABLE cursor (
    id           BIGINT  PRIMARY KEY CHECK (id = 1),
    chain_id     BIGINT  NOT NULL,
    contract     TEXT    NOT NULL,
    block_number BIGINT  NOT NULL,
    block_hash   TEXT    NOT NULL,
    updated_at   BIGINT  NOT NULL
);

CREATE TABLE blocks (
    number     BIGINT PRIMARY KEY,
    hash       TEXT   NOT NULL,
    timestamp  BIGINT NOT NULL
);

CREATE TABLE events (
    id           BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    block_number BIGINT NOT NULL,
    block_time   BIGINT NOT NULL,
    tx_hash      TEXT   NOT NULL,
    log_index    BIGINT NOT NULL,
    kind         TEXT   NOT NULL,
    data         TEXT   NOT NULL,
    UNIQUE (tx_hash, log_index)
);
CREATE INDEX events_block ON events (block_number);
CREATE INDEX events_kind ON events (kind, id);

CREATE TABLE operators (
    vid           BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    address       TEXT   NOT NULL,
    endpoint      TEXT   NOT NULL,
    x25519_key    TEXT   NOT NULL,
    stake         TEXT   NOT NULL,
    status        TEXT   NOT NULL,
    unlock_at     BIGINT,
    slashed_total TEXT   NOT NULL,
    registered_at BIGINT NOT NULL,
    event         TEXT   NOT NULL,
    block_number  BIGINT NOT NULL,
    block_time    BIGINT NOT NULL,
    tx_hash       TEXT   NOT NULL,
    log_index     BIGINT NOT NULL,
    superseded_at BIGINT
);
CREATE UNIQUE INDEX operators_current ON operators (address) WHERE superseded_at IS NULL;
CREATE INDEX operators_block ON operators (block_number);
CREATE INDEX operators_superseded ON operators (superseded_at);

CREATE TABLE models (
    vid                  BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    model_id             BIGINT NOT NULL,
    seller               TEXT   NOT NULL,
    operator             TEXT   NOT NULL,
    token                TEXT   NOT NULL,
    price_per_row        TEXT   NOT NULL,
    operator_fee_per_row TEXT   NOT NULL,
    card_hash            TEXT   NOT NULL,
    sealed_model_hash    TEXT   NOT NULL,
    param_set            BIGINT NOT NULL,
    max_rows             BIGINT NOT NULL,
    job_deadline         BIGINT NOT NULL,
    output_mode          BIGINT NOT NULL,
    status               TEXT   NOT NULL,
    decline_reason       BIGINT,
    listed_at            BIGINT NOT NULL,
    event                TEXT   NOT NULL,
    block_number         BIGINT NOT NULL,
    block_time           BIGINT NOT NULL,
    tx_hash              TEXT   NOT NULL,
    log_index            BIGINT NOT NULL,
    superseded_at        BIGINT
);
CREATE UNIQUE INDEX models_current ON models (model_id) WHERE superseded_at IS NULL;
CREATE INDEX models_seller ON models (seller, model_id) WHERE superseded_at IS NULL;
CREATE INDEX models_operator ON models (operator, model_id) WHERE superseded_at IS NULL;
CREATE INDEX models_block ON models (block_number);
CREATE INDEX models_superseded ON models (superseded_at);

CREATE TABLE keys (
    vid           BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    key_hash      TEXT   NOT NULL,
    owner         TEXT   NOT NULL,
    param_set     BIGINT NOT NULL,
    status        TEXT   NOT NULL,
    registered_at BIGINT NOT NULL,
    event         TEXT   NOT NULL,
    block_number  BIGINT NOT NULL,
    block_time    BIGINT NOT NULL,
    tx_hash       TEXT   NOT NULL,
    log_index     BIGINT NOT NULL,
    superseded_at BIGINT
);
CREATE UNIQUE INDEX keys_current ON keys (key_hash) WHERE superseded_at IS NULL;
CREATE INDEX keys_owner ON keys (owner, key_hash) WHERE superseded_at IS NULL;
CREATE INDEX keys_block ON keys (block_number);
CREATE INDEX keys_superseded ON keys (superseded_at);

CREATE TABLE jobs (
    vid             BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    job_id          BIGINT NOT NULL,
    model_id        BIGINT NOT NULL,
    buyer           TEXT   NOT NULL,
    seller          TEXT   NOT NULL,
    operator        TEXT   NOT NULL,
    token           TEXT   NOT NULL,
    input_hash      TEXT   NOT NULL,
    key_hash        TEXT   NOT NULL,
    rows_count      BIGINT NOT NULL,
    seller_amount   TEXT   NOT NULL,
    operator_amount TEXT   NOT NULL,
    deadline        BIGINT NOT NULL,
    status          TEXT   NOT NULL,
    result_hash     TEXT,
    reason          BIGINT,
    seller_paid     TEXT,
    operator_paid   TEXT,
    protocol_fee    TEXT,
    refund          TEXT,
    slashed         TEXT,
    requested_at    BIGINT NOT NULL,
    settled_at      BIGINT,
    event           TEXT   NOT NULL,
    block_number    BIGINT NOT NULL,
    block_time      BIGINT NOT NULL,
    tx_hash         TEXT   NOT NULL,
    log_index       BIGINT NOT NULL,
    superseded_at   BIGINT
);
CREATE UNIQUE INDEX jobs_current ON jobs (job_id) WHERE superseded_at IS NULL;
CREATE INDEX jobs_buyer ON jobs (buyer, job_id) WHERE superseded_at IS NULL;
CREATE INDEX jobs_seller ON jobs (seller, job_id) WHERE superseded_at IS NULL;
CREATE INDEX jobs_operator ON jobs (operator, job_id) WHERE superseded_at IS NULL;
CREATE INDEX jobs_model ON jobs (model_id, job_id) WHERE superseded_at IS NULL;
CREATE INDEX jobs_history ON jobs (job_id, vid);
CREATE INDEX jobs_block ON jobs (block_number);
CREATE INDEX jobs_superseded ON jobs (superseded_at);

CREATE TABLE balances (
    vid             BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    account         TEXT   NOT NULL,
    token           TEXT   NOT NULL,
    balance         TEXT   NOT NULL,
    credited_total  TEXT   NOT NULL,
    withdrawn_total TEXT   NOT NULL,
    event           TEXT   NOT NULL,
    block_number    BIGINT NOT NULL,
    block_time      BIGINT NOT NULL,
    tx_hash         TEXT   NOT NULL,
    log_index       BIGINT NOT NULL,
    superseded_at   BIGINT
);
CREATE UNIQUE INDEX balances_current ON balances (account, token) WHERE superseded_at IS NULL;
CREATE INDEX balances_block ON balances (block_number);
CREATE INDEX balances_superseded ON balances (superseded_at);
