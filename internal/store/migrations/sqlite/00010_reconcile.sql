-- +goose Up
-- Daily reconciliation against the channels' statements (SPEC §5, §6,
-- Appendix B). Times are Unix ms; money is integer fen.

-- One reconciliation per school, channel and day (Asia/Shanghai,
-- YYYY-MM-DD): every run brings it up to date with its figures and the
-- statement's and the books' totals; status is matched, resolved (every
-- difference was resolved), unresolved or failed (no statement).
CREATE TABLE reconciliations (
    id                     INTEGER PRIMARY KEY AUTOINCREMENT,
    school_id              BIGINT NOT NULL REFERENCES schools(id),
    channel                TEXT NOT NULL,
    day                    TEXT NOT NULL,
    runs                   INTEGER NOT NULL DEFAULT 0,
    status                 TEXT NOT NULL,
    statement_payments     INTEGER NOT NULL DEFAULT 0,
    statement_payment_sum  BIGINT NOT NULL DEFAULT 0,
    statement_refunds      INTEGER NOT NULL DEFAULT 0,
    statement_refund_sum   BIGINT NOT NULL DEFAULT 0,
    platform_payments      INTEGER NOT NULL DEFAULT 0,
    platform_payment_sum   BIGINT NOT NULL DEFAULT 0,
    platform_refunds       INTEGER NOT NULL DEFAULT 0,
    platform_refund_sum    BIGINT NOT NULL DEFAULT 0,
    matched                INTEGER NOT NULL DEFAULT 0,
    differences            INTEGER NOT NULL DEFAULT 0,
    unresolved             INTEGER NOT NULL DEFAULT 0,
    error                  TEXT NOT NULL DEFAULT '',
    run_at                 BIGINT NOT NULL,
    run_by                 TEXT NOT NULL,
    UNIQUE (school_id, channel, day)
);
CREATE INDEX reconciliations_school_day ON reconciliations (school_id, day);
-- Each run's differences, kept when a later run finds the day matched:
-- the kind, the transaction, both amounts, and what the run did about it.
CREATE TABLE reconciliation_differences (
    id                INTEGER PRIMARY KEY AUTOINCREMENT,
    reconciliation_id BIGINT NOT NULL REFERENCES reconciliations(id),
    run               INTEGER NOT NULL,
    kind              TEXT NOT NULL CHECK (kind IN ('channel_only', 'platform_only', 'amount_mismatch')),
    txn_kind          TEXT NOT NULL,
    order_no          TEXT NOT NULL,
    ref               TEXT NOT NULL,
    channel_amount    BIGINT NOT NULL,
    platform_amount   BIGINT NOT NULL,
    action            TEXT NOT NULL,
    resolved          BOOLEAN NOT NULL,
    note              TEXT NOT NULL,
    at                BIGINT NOT NULL
);
CREATE INDEX reconciliation_differences_run ON reconciliation_differences (reconciliation_id, run);
-- A day's money as the books have it is read by when it arrived.
CREATE INDEX payments_received_at ON payments_received (received_at);
CREATE INDEX suspense_received_at ON suspense (received_at);

-- +goose Down
DROP INDEX suspense_received_at;
DROP INDEX payments_received_at;
DROP TABLE reconciliation_differences;
DROP TABLE reconciliations;
