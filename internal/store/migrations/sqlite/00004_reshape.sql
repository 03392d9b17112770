-- +goose Up
-- Jobs end dead after a bounded number of attempts, visible to people.
ALTER TABLE jobs ADD COLUMN dead_at BIGINT NOT NULL DEFAULT 0;
DROP INDEX jobs_due;
CREATE INDEX jobs_due ON jobs (run_at) WHERE done_at = 0 AND dead_at = 0;
CREATE INDEX jobs_ref ON jobs (ref);
-- The platform's own journal entries (money no school can be told for)
-- have no school. SQLite cannot drop NOT NULL in place: both journal
-- tables are rebuilt, the child first, so no foreign key is ever broken.
CREATE TABLE journal_entries_v2 (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    school_id  BIGINT REFERENCES schools(id),
    kind       TEXT NOT NULL,
    ref        TEXT NOT NULL,
    memo       TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
INSERT INTO journal_entries_v2 (id, school_id, kind, ref, memo, created_at)
    SELECT id, school_id, kind, ref, memo, created_at FROM journal_entries;
CREATE TABLE journal_postings_v2 (
    id       INTEGER PRIMARY KEY AUTOINCREMENT,
    entry_id BIGINT NOT NULL REFERENCES journal_entries_v2(id),
    account  TEXT NOT NULL,
    amount   BIGINT NOT NULL
);
INSERT INTO journal_postings_v2 (id, entry_id, account, amount)
    SELECT id, entry_id, account, amount FROM journal_postings;
DROP TABLE journal_postings;
DROP TABLE journal_entries;
ALTER TABLE journal_entries_v2 RENAME TO journal_entries;
ALTER TABLE journal_postings_v2 RENAME TO journal_postings;
CREATE INDEX journal_postings_account ON journal_postings (account);
CREATE INDEX journal_postings_entry ON journal_postings (entry_id);
-- +goose StatementBegin
CREATE TRIGGER journal_entries_append_only_u BEFORE UPDATE ON journal_entries
BEGIN SELECT RAISE(ABORT, 'journal is append-only'); END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER journal_entries_append_only_d BEFORE DELETE ON journal_entries
BEGIN SELECT RAISE(ABORT, 'journal is append-only'); END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER journal_postings_append_only_u BEFORE UPDATE ON journal_postings
BEGIN SELECT RAISE(ABORT, 'journal is append-only'); END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER journal_postings_append_only_d BEFORE DELETE ON journal_postings
BEGIN SELECT RAISE(ABORT, 'journal is append-only'); END;
-- +goose StatementEnd
-- I2: money a channel verifiably took that matches no order, with the raw
-- notification, until the finance office resolves it.
CREATE TABLE suspense (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    school_id      BIGINT REFERENCES schools(id),
    channel        TEXT NOT NULL,
    merchant_id    TEXT NOT NULL,
    order_no       TEXT NOT NULL,
    channel_txn_id TEXT NOT NULL,
    amount         BIGINT NOT NULL CHECK (amount > 0),
    reason         TEXT NOT NULL,
    raw            TEXT NOT NULL,
    status         TEXT NOT NULL DEFAULT 'open',
    received_at    BIGINT NOT NULL,
    UNIQUE (channel, channel_txn_id)
);
-- SPEC §6: a client's Idempotency-Key on POST /api/v1/orders, with the
-- hash of the request it came with and the order it made.
CREATE TABLE idempotency_keys (
    student_id   BIGINT NOT NULL REFERENCES students(id),
    key          TEXT NOT NULL,
    request_hash TEXT NOT NULL,
    order_id     BIGINT NOT NULL REFERENCES orders(id),
    created_at   BIGINT NOT NULL,
    PRIMARY KEY (student_id, key)
);
CREATE INDEX idempotency_keys_created ON idempotency_keys (created_at);

-- +goose Down
DROP TABLE idempotency_keys;
DROP TABLE suspense;
DROP INDEX jobs_ref;
DROP INDEX jobs_due;
CREATE INDEX jobs_due ON jobs (done_at, run_at);
ALTER TABLE jobs DROP COLUMN dead_at;
