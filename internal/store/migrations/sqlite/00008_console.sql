-- +goose Up
-- The finance office's console (SPEC §1, §6, §7, Appendix B). Times are
-- Unix ms; money is integer fen.

-- Staff: platform operators (no school) and each school's admins, clerks
-- and auditors. Passwords are argon2id; the TOTP secret is needed to check
-- codes, so it is kept (base32); recovery codes only as SHA-256.
CREATE TABLE staff (
    id                   INTEGER PRIMARY KEY AUTOINCREMENT,
    school_id            BIGINT REFERENCES schools(id),
    username             TEXT NOT NULL UNIQUE,
    display_name         TEXT NOT NULL DEFAULT '',
    role                 TEXT NOT NULL CHECK (role IN ('operator', 'admin', 'clerk', 'auditor')),
    password_hash        TEXT NOT NULL,
    must_change_password BOOLEAN NOT NULL,
    totp_secret          TEXT NOT NULL,
    totp_pending         TEXT NOT NULL DEFAULT '',
    totp_last_step       BIGINT NOT NULL DEFAULT 0,
    disabled             BOOLEAN NOT NULL DEFAULT FALSE,
    created_at           BIGINT NOT NULL,
    updated_at           BIGINT NOT NULL,
    CHECK ((role = 'operator') = (school_id IS NULL))
);
CREATE INDEX staff_school ON staff (school_id);
CREATE TABLE staff_recovery_codes (
    staff_id  BIGINT NOT NULL REFERENCES staff(id),
    code_hash TEXT NOT NULL,
    used_at   BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (staff_id, code_hash)
);
CREATE TABLE staff_sessions (
    token_hash TEXT PRIMARY KEY,
    staff_id   BIGINT NOT NULL REFERENCES staff(id),
    kind       TEXT NOT NULL,
    csrf       TEXT NOT NULL,
    client     TEXT NOT NULL DEFAULT '',
    created_at BIGINT NOT NULL,
    last_seen  BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE INDEX staff_sessions_staff ON staff_sessions (staff_id);

-- The audit log: one hash chain per school (chain = school id) and one for
-- the platform (chain 0). audit_heads holds each chain's last row; only
-- staff actions and journal seals lock it, never a payment.
CREATE TABLE audit_heads (
    chain BIGINT PRIMARY KEY,
    seq   BIGINT NOT NULL,
    hash  TEXT NOT NULL
);
CREATE TABLE audit_log (
    id        INTEGER PRIMARY KEY AUTOINCREMENT,
    chain     BIGINT NOT NULL,
    seq       BIGINT NOT NULL,
    at        BIGINT NOT NULL,
    actor_id  BIGINT NOT NULL,
    actor     TEXT NOT NULL,
    role      TEXT NOT NULL,
    action    TEXT NOT NULL,
    target    TEXT NOT NULL,
    school_id BIGINT NOT NULL,
    client    TEXT NOT NULL,
    before    TEXT NOT NULL,
    after     TEXT NOT NULL,
    prev_hash TEXT NOT NULL,
    hash      TEXT NOT NULL,
    UNIQUE (chain, seq)
);
CREATE INDEX audit_log_chain_at ON audit_log (chain, at);
-- +goose StatementBegin
CREATE TRIGGER audit_log_append_only_u BEFORE UPDATE ON audit_log
BEGIN SELECT RAISE(ABORT, 'audit log is append-only'); END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER audit_log_append_only_d BEFORE DELETE ON audit_log
BEGIN SELECT RAISE(ABORT, 'audit log is append-only'); END;
-- +goose StatementEnd
-- How far the journal is sealed into the platform chain.
CREATE TABLE audit_seal_cursor (
    id         INTEGER PRIMARY KEY CHECK (id = 1),
    last_entry BIGINT NOT NULL
);
INSERT INTO audit_seal_cursor (id, last_entry) VALUES (1, 0);

-- Imports through the console: every file previewed or applied, with who,
-- when, its SHA-256 and counts; the file itself is kept between preview
-- and confirmation only.
CREATE TABLE import_batches (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    school_id   BIGINT NOT NULL REFERENCES schools(id),
    kind        TEXT NOT NULL,
    filename    TEXT NOT NULL,
    file_hash   TEXT NOT NULL,
    size        BIGINT NOT NULL,
    status      TEXT NOT NULL,
    rows_total  INTEGER NOT NULL DEFAULT 0,
    created     INTEGER NOT NULL DEFAULT 0,
    updated     INTEGER NOT NULL DEFAULT 0,
    unchanged   INTEGER NOT NULL DEFAULT 0,
    problems    INTEGER NOT NULL DEFAULT 0,
    staff_id    BIGINT NOT NULL REFERENCES staff(id),
    created_at  BIGINT NOT NULL,
    applied_by  BIGINT NOT NULL DEFAULT 0,
    applied_at  BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX import_batches_school ON import_batches (school_id, created_at);
CREATE TABLE import_files (
    batch_id BIGINT PRIMARY KEY REFERENCES import_batches(id),
    content  BLOB NOT NULL
);

-- Fee setup: display order of projects and items, an item's default
-- mandatory flag, fee standards by grade, major and dormitory type.
ALTER TABLE projects ADD COLUMN sort_order INTEGER NOT NULL DEFAULT 0;
ALTER TABLE items ADD COLUMN sort_order INTEGER NOT NULL DEFAULT 0;
ALTER TABLE items ADD COLUMN mandatory BOOLEAN NOT NULL DEFAULT FALSE;
CREATE TABLE fee_standards (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    school_id  BIGINT NOT NULL REFERENCES schools(id),
    grade      TEXT NOT NULL,
    major      TEXT NOT NULL,
    dorm_type  TEXT NOT NULL,
    project    TEXT NOT NULL,
    item       TEXT NOT NULL,
    amount     BIGINT NOT NULL CHECK (amount > 0),
    mandatory  BOOLEAN NOT NULL,
    created_at BIGINT NOT NULL,
    UNIQUE (school_id, grade, major, dorm_type, project, item)
);
CREATE TABLE student_dorms (
    student_id BIGINT PRIMARY KEY REFERENCES students(id),
    dorm_type  TEXT NOT NULL,
    updated_at BIGINT NOT NULL
);

-- The collection board's summary. A change of a bill line's amount or
-- paid, or of a student's cohort, leaves a mark (board_dirty) in the same
-- transaction; the board's refresh takes the marks and recomputes those
-- students' sums (board_students; project 0 is all projects) and the
-- cells they count in (board_cells) and the hours paid (board_hourly).
CREATE TABLE board_dirty (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    student_id BIGINT NOT NULL,
    paid_delta BIGINT NOT NULL DEFAULT 0,
    at         BIGINT NOT NULL DEFAULT 0
);
CREATE TABLE board_students (
    student_id BIGINT NOT NULL,
    project_id BIGINT NOT NULL,
    school_id  BIGINT NOT NULL,
    grade      TEXT NOT NULL,
    major      TEXT NOT NULL,
    class_name TEXT NOT NULL,
    due        BIGINT NOT NULL,
    paid       BIGINT NOT NULL,
    PRIMARY KEY (student_id, project_id)
);
CREATE TABLE board_cells (
    school_id     BIGINT NOT NULL,
    project_id    BIGINT NOT NULL,
    grade         TEXT NOT NULL,
    major         TEXT NOT NULL,
    class_name    TEXT NOT NULL,
    due           BIGINT NOT NULL,
    paid          BIGINT NOT NULL,
    students      INTEGER NOT NULL,
    students_full INTEGER NOT NULL,
    PRIMARY KEY (school_id, project_id, grade, major, class_name)
);
CREATE TABLE board_hourly (
    school_id BIGINT NOT NULL,
    hour      BIGINT NOT NULL,
    amount    BIGINT NOT NULL,
    payments  INTEGER NOT NULL,
    PRIMARY KEY (school_id, hour)
);
-- +goose StatementBegin
CREATE TRIGGER bill_lines_board_i AFTER INSERT ON bill_lines
BEGIN INSERT INTO board_dirty (student_id, paid_delta, at) VALUES (NEW.student_id, NEW.paid, NEW.updated_at); END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER bill_lines_board_u AFTER UPDATE OF amount, paid ON bill_lines
WHEN NEW.amount <> OLD.amount OR NEW.paid <> OLD.paid
BEGIN INSERT INTO board_dirty (student_id, paid_delta, at) VALUES (NEW.student_id, NEW.paid - OLD.paid, NEW.updated_at); END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER bill_lines_board_d AFTER DELETE ON bill_lines
BEGIN INSERT INTO board_dirty (student_id, paid_delta, at) VALUES (OLD.student_id, -OLD.paid, OLD.updated_at); END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER students_board_u AFTER UPDATE OF grade, major, class_name ON students
WHEN NEW.grade <> OLD.grade OR NEW.major <> OLD.major OR NEW.class_name <> OLD.class_name
BEGIN INSERT INTO board_dirty (student_id) VALUES (NEW.id); END;
-- +goose StatementEnd
-- Students already billed are counted at the first refresh.
INSERT INTO board_dirty (student_id) SELECT DISTINCT student_id FROM bill_lines;

-- +goose Down
DROP TRIGGER students_board_u;
DROP TRIGGER bill_lines_board_d;
DROP TRIGGER bill_lines_board_u;
DROP TRIGGER bill_lines_board_i;
DROP TABLE board_hourly;
DROP TABLE board_cells;
DROP TABLE board_students;
DROP TABLE board_dirty;
DROP TABLE student_dorms;
DROP TABLE fee_standards;
ALTER TABLE items DROP COLUMN mandatory;
ALTER TABLE items DROP COLUMN sort_order;
ALTER TABLE projects DROP COLUMN sort_order;
DROP TABLE import_files;
DROP TABLE import_batches;
DROP TABLE audit_seal_cursor;
DROP TABLE audit_log;
DROP TABLE audit_heads;
DROP TABLE staff_sessions;
DROP TABLE staff_recovery_codes;
DROP TABLE staff;
