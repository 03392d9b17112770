-- +goose Up
-- Receipts (缴费凭证) and payment reminders (催缴提醒). Times are Unix ms;
-- money is integer fen.

-- Keys the platform makes for itself, once per deployment, when none is
-- configured: "receipt" keys the HMAC of receipts' verification codes, so
-- that every server of a deployment checks the codes any of them printed.
CREATE TABLE platform_keys (
    name       TEXT PRIMARY KEY,
    value      TEXT NOT NULL,
    created_at BIGINT NOT NULL
);

-- One reminder send by the finance office: who, which students (the
-- filter), and what was planned. A send's per-student rows are reminders.
CREATE TABLE reminder_batches (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    school_id  BIGINT NOT NULL REFERENCES schools(id),
    staff_id   BIGINT NOT NULL,
    staff_name TEXT NOT NULL,
    filter     TEXT NOT NULL,
    students   INTEGER NOT NULL,
    skipped    INTEGER NOT NULL,
    deferred   INTEGER NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX reminder_batches_school ON reminder_batches (school_id, created_at);
-- One student reminded: by SMS to phone, or by a notice on the portal and
-- the phone app (channel 'notice'; an SMS that failed becomes one). status:
-- pending (SMS not yet answered), sent, failed, shown (a notice).
CREATE TABLE reminders (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    batch_id     BIGINT NOT NULL REFERENCES reminder_batches(id),
    school_id    BIGINT NOT NULL,
    student_id   BIGINT NOT NULL REFERENCES students(id),
    channel      TEXT NOT NULL CHECK (channel IN ('sms', 'notice')),
    phone        TEXT NOT NULL DEFAULT '',
    items        INTEGER NOT NULL,
    owed         BIGINT NOT NULL,
    status       TEXT NOT NULL,
    error        TEXT NOT NULL DEFAULT '',
    created_at   BIGINT NOT NULL,
    sent_at      BIGINT NOT NULL DEFAULT 0,
    dismissed_at BIGINT NOT NULL DEFAULT 0,
    UNIQUE (batch_id, student_id)
);
CREATE INDEX reminders_student ON reminders (student_id, created_at);

-- +goose Down
DROP TABLE reminders;
DROP TABLE reminder_batches;
DROP TABLE platform_keys;
