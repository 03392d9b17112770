-- +goose Up
-- The finance office's money operations (SPEC I1–I3, §5, Appendix B):
-- waivers, deferrals and student-loan offsets on bill lines, refunds of
-- orders, overpayments and suspense, each a request that an admin approves
-- (four eyes). Times are Unix ms; money is integer fen.
--
-- A bill line's amount is what is owed now: a waiver or a refund of the
-- order that paid it lowers it, down to zero, so the amount check becomes
-- amount >= 0. The line also keeps what lowered it (waived, refunded: the
-- billed amount is amount + waived + refunded, which a re-import compares
-- with), the part of paid a student loan paid (loan), and the date before
-- which it may not be paid (deferred_until, 0: none). SQLite cannot change
-- a CHECK in place: bill_lines is rebuilt with its two children, the
-- children first, so no foreign key is ever broken (as in 00004).
CREATE TABLE bill_lines_v2 (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    student_id     BIGINT NOT NULL REFERENCES students(id),
    item_id        BIGINT NOT NULL REFERENCES items(id),
    amount         BIGINT NOT NULL CHECK (amount >= 0),
    paid           BIGINT NOT NULL DEFAULT 0 CHECK (paid >= 0 AND paid <= amount),
    mandatory      BOOLEAN NOT NULL,
    created_at     BIGINT NOT NULL,
    updated_at     BIGINT NOT NULL,
    waived         BIGINT NOT NULL DEFAULT 0 CHECK (waived >= 0),
    refunded       BIGINT NOT NULL DEFAULT 0 CHECK (refunded >= 0),
    loan           BIGINT NOT NULL DEFAULT 0 CHECK (loan >= 0 AND loan <= paid),
    deferred_until BIGINT NOT NULL DEFAULT 0,
    UNIQUE (student_id, item_id)
);
INSERT INTO bill_lines_v2 (id, student_id, item_id, amount, paid, mandatory, created_at, updated_at)
    SELECT id, student_id, item_id, amount, paid, mandatory, created_at, updated_at FROM bill_lines;
CREATE TABLE order_lines_v2 (
    order_id BIGINT NOT NULL REFERENCES orders(id),
    line_id  BIGINT NOT NULL REFERENCES bill_lines_v2(id),
    amount   BIGINT NOT NULL CHECK (amount > 0),
    PRIMARY KEY (order_id, line_id)
);
INSERT INTO order_lines_v2 (order_id, line_id, amount) SELECT order_id, line_id, amount FROM order_lines;
CREATE TABLE line_holds_v2 (
    line_id  BIGINT PRIMARY KEY REFERENCES bill_lines_v2(id),
    order_id BIGINT NOT NULL REFERENCES orders(id),
    until_at BIGINT NOT NULL
);
INSERT INTO line_holds_v2 (line_id, order_id, until_at) SELECT line_id, order_id, until_at FROM line_holds;
DROP TABLE line_holds;
DROP TABLE order_lines;
DROP TABLE bill_lines;
ALTER TABLE bill_lines_v2 RENAME TO bill_lines;
ALTER TABLE order_lines_v2 RENAME TO order_lines;
ALTER TABLE line_holds_v2 RENAME TO line_holds;
CREATE INDEX order_lines_line ON order_lines (line_id);
CREATE INDEX line_holds_order ON line_holds (order_id);
-- The board's triggers went with the old table (00008).
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

-- A finance office's money request: one adjustment, a loan file, a refund
-- or a suspense resolution. Its id is the one Appendix B's adjustments,
-- refunds and approvals name. A clerk's request waits (pending_approval)
-- until an admin other than the requester approves (applied) or rejects
-- it; an admin's own request is applied at once. A refund's progress
-- after approval is its refunds row's. school_id NULL: the platform's
-- (money in the platform's suspense).
CREATE TABLE money_requests (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    school_id      BIGINT REFERENCES schools(id),
    kind           TEXT NOT NULL,
    status         TEXT NOT NULL CHECK (status IN ('pending_approval', 'applied', 'rejected')),
    student_id     BIGINT REFERENCES students(id),
    line_id        BIGINT REFERENCES bill_lines(id),
    order_id       BIGINT REFERENCES orders(id),
    suspense_id    BIGINT REFERENCES suspense(id),
    source         TEXT NOT NULL DEFAULT '',
    amount         BIGINT NOT NULL DEFAULT 0 CHECK (amount >= 0),
    deferred_until BIGINT NOT NULL DEFAULT 0,
    reason         TEXT NOT NULL,
    detail         TEXT NOT NULL DEFAULT '',
    file_hash      TEXT NOT NULL DEFAULT '',
    refund_no      TEXT NOT NULL DEFAULT '',
    requested_by   BIGINT NOT NULL,
    requester      TEXT NOT NULL,
    requested_at   BIGINT NOT NULL,
    decided_by     BIGINT NOT NULL DEFAULT 0,
    decider        TEXT NOT NULL DEFAULT '',
    decided_at     BIGINT NOT NULL DEFAULT 0,
    note           TEXT NOT NULL DEFAULT ''
);
CREATE INDEX money_requests_school ON money_requests (school_id, status, id);
CREATE INDEX money_requests_student ON money_requests (student_id);
CREATE INDEX money_requests_order ON money_requests (order_id);

-- One line's adjustment of a request (a loan file has one per row). A
-- loan's covered part paid the unpaid line; its displaced part replaced
-- what payment_id had paid, which became an overpayment to refund.
CREATE TABLE adjustments (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    request_id     BIGINT NOT NULL REFERENCES money_requests(id),
    line_id        BIGINT NOT NULL REFERENCES bill_lines(id),
    kind           TEXT NOT NULL CHECK (kind IN ('waiver', 'deferral', 'loan')),
    amount         BIGINT NOT NULL CHECK (amount >= 0),
    deferred_until BIGINT NOT NULL DEFAULT 0,
    contract_no    TEXT NOT NULL DEFAULT '',
    file_line      INTEGER NOT NULL DEFAULT 0,
    covered        BIGINT NOT NULL DEFAULT 0,
    displaced      BIGINT NOT NULL DEFAULT 0,
    payment_id     BIGINT REFERENCES payments_received(id)
);
CREATE INDEX adjustments_request ON adjustments (request_id);
CREATE INDEX adjustments_line ON adjustments (line_id);
CREATE INDEX adjustments_payment ON adjustments (payment_id);

-- Refunds: of an order's payment (kind order: the lines it paid are
-- lowered, refund_lines say by how much), of an overpayment (kind
-- overpayment: the non-debit refunds made so far), or of a suspense entry
-- (kind suspense: no order, no payment row). Rebuilt: order_id and
-- payment_id become optional.
CREATE TABLE refunds_v2 (
    id                INTEGER PRIMARY KEY AUTOINCREMENT,
    refund_no         TEXT NOT NULL UNIQUE,
    order_id          BIGINT REFERENCES orders(id),
    payment_id        BIGINT REFERENCES payments_received(id),
    amount            BIGINT NOT NULL CHECK (amount > 0),
    reason            TEXT NOT NULL,
    status            TEXT NOT NULL,
    channel_refund_id TEXT NOT NULL DEFAULT '',
    created_at        BIGINT NOT NULL,
    updated_at        BIGINT NOT NULL,
    kind              TEXT NOT NULL DEFAULT 'overpayment' CHECK (kind IN ('order', 'overpayment', 'suspense')),
    suspense_id       BIGINT REFERENCES suspense(id),
    request_id        BIGINT REFERENCES money_requests(id),
    CHECK ((payment_id IS NULL) <> (suspense_id IS NULL))
);
INSERT INTO refunds_v2 (id, refund_no, order_id, payment_id, amount, reason, status, channel_refund_id, created_at, updated_at)
    SELECT id, refund_no, order_id, payment_id, amount, reason, status, channel_refund_id, created_at, updated_at FROM refunds;
DROP TABLE refunds;
ALTER TABLE refunds_v2 RENAME TO refunds;
CREATE INDEX refunds_payment ON refunds (payment_id);
CREATE TABLE refund_lines (
    refund_id BIGINT NOT NULL REFERENCES refunds(id),
    line_id   BIGINT NOT NULL REFERENCES bill_lines(id),
    amount    BIGINT NOT NULL CHECK (amount > 0),
    PRIMARY KEY (refund_id, line_id)
);

-- Suspense resolution: open → refunding → refunded (or back to open when
-- the channel refuses), or open → allocated.
ALTER TABLE suspense ADD COLUMN resolved_at BIGINT NOT NULL DEFAULT 0;
CREATE INDEX suspense_school ON suspense (school_id, status);

-- +goose Down
DROP INDEX suspense_school;
ALTER TABLE suspense DROP COLUMN resolved_at;
DROP TABLE refund_lines;
CREATE TABLE refunds_v1 (
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
INSERT INTO refunds_v1 (id, refund_no, order_id, payment_id, amount, reason, status, channel_refund_id, created_at, updated_at)
    SELECT id, refund_no, order_id, payment_id, amount, reason, status, channel_refund_id, created_at, updated_at FROM refunds
    WHERE payment_id IS NOT NULL;
DROP TABLE refunds;
ALTER TABLE refunds_v1 RENAME TO refunds;
DROP TABLE adjustments;
DROP TABLE money_requests;
CREATE TABLE bill_lines_v1 (
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
INSERT INTO bill_lines_v1 (id, student_id, item_id, amount, paid, mandatory, created_at, updated_at)
    SELECT id, student_id, item_id, amount, paid, mandatory, created_at, updated_at FROM bill_lines;
CREATE TABLE order_lines_v1 (
    order_id BIGINT NOT NULL REFERENCES orders(id),
    line_id  BIGINT NOT NULL REFERENCES bill_lines_v1(id),
    amount   BIGINT NOT NULL CHECK (amount > 0),
    PRIMARY KEY (order_id, line_id)
);
INSERT INTO order_lines_v1 (order_id, line_id, amount) SELECT order_id, line_id, amount FROM order_lines;
CREATE TABLE line_holds_v1 (
    line_id  BIGINT PRIMARY KEY REFERENCES bill_lines_v1(id),
    order_id BIGINT NOT NULL REFERENCES orders(id),
    until_at BIGINT NOT NULL
);
INSERT INTO line_holds_v1 (line_id, order_id, until_at) SELECT line_id, order_id, until_at FROM line_holds;
DROP TABLE line_holds;
DROP TABLE order_lines;
DROP TABLE bill_lines;
ALTER TABLE bill_lines_v1 RENAME TO bill_lines;
ALTER TABLE order_lines_v1 RENAME TO order_lines;
ALTER TABLE line_holds_v1 RENAME TO line_holds;
CREATE INDEX order_lines_line ON order_lines (line_id);
CREATE INDEX line_holds_order ON line_holds (order_id);
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
