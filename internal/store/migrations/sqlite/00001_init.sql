-- +goose Up
-- Times are Unix milliseconds (UTC); money is integer fen.
CREATE TABLE regions (
    code TEXT PRIMARY KEY,
    name TEXT NOT NULL
);
CREATE TABLE schools (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    code        TEXT NOT NULL UNIQUE,
    name        TEXT NOT NULL,
    region_code TEXT NOT NULL REFERENCES regions(code),
    policy      TEXT NOT NULL,
    created_at  BIGINT NOT NULL
);
CREATE TABLE students (
    id                   INTEGER PRIMARY KEY AUTOINCREMENT,
    school_id            BIGINT NOT NULL REFERENCES schools(id),
    student_no           TEXT NOT NULL,
    name                 TEXT NOT NULL,
    id_card              TEXT NOT NULL DEFAULT '',
    grade                TEXT NOT NULL DEFAULT '',
    major                TEXT NOT NULL DEFAULT '',
    class_name           TEXT NOT NULL DEFAULT '',
    phone                TEXT NOT NULL DEFAULT '',
    password_hash        TEXT NOT NULL,
    must_change_password BOOLEAN NOT NULL,
    failed_logins        INTEGER NOT NULL DEFAULT 0,
    locked_until         BIGINT NOT NULL DEFAULT 0,
    created_at           BIGINT NOT NULL,
    updated_at           BIGINT NOT NULL,
    UNIQUE (school_id, student_no)
);
CREATE TABLE projects (
    id        INTEGER PRIMARY KEY AUTOINCREMENT,
    school_id BIGINT NOT NULL REFERENCES schools(id),
    name      TEXT NOT NULL,
    UNIQUE (school_id, name)
);
CREATE TABLE items (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    project_id BIGINT NOT NULL REFERENCES projects(id),
    name       TEXT NOT NULL,
    UNIQUE (project_id, name)
);
CREATE TABLE bill_lines (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    student_id BIGINT NOT NULL REFERENCES students(id),
    item_id    BIGINT NOT NULL REFERENCES items(id),
    amount     BIGINT NOT NULL CHECK (amount > 0),
    paid       BIGINT NOT NULL DEFAULT 0 CHECK (paid >= 0 AND paid <= amount),
    mandatory  BOOLEAN NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    UNIQUE (student_id, item_id)
);
CREATE TABLE orders (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    order_no        TEXT NOT NULL UNIQUE,
    school_id       BIGINT NOT NULL REFERENCES schools(id),
    student_id      BIGINT NOT NULL REFERENCES students(id),
    channel         TEXT NOT NULL,
    amount          BIGINT NOT NULL CHECK (amount > 0),
    status          TEXT NOT NULL,
    mobile          BOOLEAN NOT NULL DEFAULT FALSE,
    created_at      BIGINT NOT NULL,
    expires_at      BIGINT NOT NULL,
    paid_at         BIGINT NOT NULL DEFAULT 0,
    closed_at       BIGINT NOT NULL DEFAULT 0,
    channel_txn_id  TEXT NOT NULL DEFAULT '',
    card_type       TEXT NOT NULL DEFAULT '',
    masked_card     TEXT NOT NULL DEFAULT '',
    failure_code    TEXT NOT NULL DEFAULT '',
    failure_message TEXT NOT NULL DEFAULT '',
    refunded        BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX orders_student ON orders (student_id, created_at);
CREATE INDEX orders_status ON orders (status, expires_at);
CREATE TABLE order_lines (
    order_id BIGINT NOT NULL REFERENCES orders(id),
    line_id  BIGINT NOT NULL REFERENCES bill_lines(id),
    amount   BIGINT NOT NULL CHECK (amount > 0),
    PRIMARY KEY (order_id, line_id)
);
CREATE INDEX order_lines_line ON order_lines (line_id);
-- R9: an open order's hold on a line; the primary key makes a second hold impossible.
CREATE TABLE line_holds (
    line_id  BIGINT PRIMARY KEY REFERENCES bill_lines(id),
    order_id BIGINT NOT NULL REFERENCES orders(id),
    until_at BIGINT NOT NULL
);
CREATE INDEX line_holds_order ON line_holds (order_id);
-- I3: every transition with its cause.
CREATE TABLE order_events (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    order_id    BIGINT NOT NULL REFERENCES orders(id),
    from_status TEXT NOT NULL,
    to_status   TEXT NOT NULL,
    cause       TEXT NOT NULL,
    at          BIGINT NOT NULL
);
CREATE INDEX order_events_order ON order_events (order_id);
-- Every success a channel reported, once per channel transaction (I1, I2).
CREATE TABLE payments_received (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    order_id       BIGINT NOT NULL REFERENCES orders(id),
    channel        TEXT NOT NULL,
    channel_txn_id TEXT NOT NULL,
    amount         BIGINT NOT NULL,
    card_type      TEXT NOT NULL,
    disposition    TEXT NOT NULL,
    source         TEXT NOT NULL,
    received_at    BIGINT NOT NULL,
    UNIQUE (channel, channel_txn_id)
);
CREATE TABLE refunds (
    id                INTEGER PRIMARY KEY AUTOINCREMENT,
    refund_no         TEXT NOT NULL UNIQUE,
    order_id          BIGINT NOT NULL REFERENCES orders(id),
    payment_id        BIGINT NOT NULL REFERENCES payments_received(id),
    amount            BIGINT NOT NULL CHECK (amount > 0),
    reason            TEXT NOT NULL,
    status            TEXT NOT NULL,
    channel_refund_id TEXT NOT NULL DEFAULT '',
    created_at        BIGINT NOT NULL,
    updated_at        BIGINT NOT NULL
);
CREATE TABLE journal_entries (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    school_id  BIGINT NOT NULL REFERENCES schools(id),
    kind       TEXT NOT NULL,
    ref        TEXT NOT NULL,
    memo       TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE TABLE journal_postings (
    id       INTEGER PRIMARY KEY AUTOINCREMENT,
    entry_id BIGINT NOT NULL REFERENCES journal_entries(id),
    account  TEXT NOT NULL,
    amount   BIGINT NOT NULL
);
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
-- Durable background work, written in the same transaction as the change
-- that needs it; (kind, ref) is unique so the same work is never queued twice.
CREATE TABLE jobs (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    kind         TEXT NOT NULL,
    ref          TEXT NOT NULL,
    run_at       BIGINT NOT NULL,
    attempts     INTEGER NOT NULL DEFAULT 0,
    locked_by    TEXT NOT NULL DEFAULT '',
    locked_until BIGINT NOT NULL DEFAULT 0,
    done_at      BIGINT NOT NULL DEFAULT 0,
    last_error   TEXT NOT NULL DEFAULT '',
    created_at   BIGINT NOT NULL,
    UNIQUE (kind, ref)
);
CREATE INDEX jobs_due ON jobs (done_at, run_at);
-- Login sessions and API tokens, stored as SHA-256 of the secret.
CREATE TABLE sessions (
    token_hash TEXT PRIMARY KEY,
    kind       TEXT NOT NULL,
    student_id BIGINT NOT NULL REFERENCES students(id),
    csrf       TEXT NOT NULL DEFAULT '',
    created_at BIGINT NOT NULL,
    last_seen  BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE INDEX sessions_student ON sessions (student_id);

-- +goose Down
DROP TABLE sessions;
DROP TABLE jobs;
DROP TABLE journal_postings;
DROP TABLE journal_entries;
DROP TABLE refunds;
DROP TABLE payments_received;
DROP TABLE order_events;
DROP TABLE line_holds;
DROP TABLE order_lines;
DROP TABLE orders;
DROP TABLE bill_lines;
DROP TABLE items;
DROP TABLE projects;
DROP TABLE students;
DROP TABLE schools;
DROP TABLE regions;
