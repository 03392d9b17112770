-- Fee projects, items, bill lines and the holds open orders keep on them.

-- name: import_students
SELECT id, student_no FROM students WHERE school_id = $1;

-- name: import_items
SELECT p.name, i.name, i.id, p.id FROM items i JOIN projects p ON p.id = i.project_id WHERE p.school_id = $1;

-- name: import_projects
SELECT p.name, p.id FROM projects p WHERE p.school_id = $1;

-- name: import_lines_lock
-- A line's billed amount (before waivers and refunds lowered it) and what
-- lowered it.
SELECT l.id, l.student_id, l.item_id, l.amount + l.waived + l.refunded, l.paid, l.mandatory,
    EXISTS (SELECT 1 FROM line_holds h WHERE h.line_id = l.id), l.waived + l.refunded
FROM bill_lines l JOIN students s ON s.id = l.student_id WHERE s.school_id = $1 FOR UPDATE OF l;

-- name: project_insert
INSERT INTO projects (school_id, name) VALUES ($1, $2) RETURNING id;

-- name: item_insert
INSERT INTO items (project_id, name) VALUES ($1, $2) RETURNING id;

-- name: line_update_amount
-- A change of the billed amount never reaches a paid or held line; what
-- waivers and refunds lowered stays lowered.
UPDATE bill_lines SET amount = $1 - waived - refunded, mandatory = $2, updated_at = $3 WHERE id = $4
    AND (amount + waived + refunded = $1 OR (paid = 0 AND $1 >= waived + refunded
        AND NOT EXISTS (SELECT 1 FROM line_holds h WHERE h.line_id = bill_lines.id)));

-- name: lines_of_student
SELECT l.id, l.student_id, p.id, p.name, i.id, i.name, l.amount, l.paid, l.mandatory, l.waived, l.refunded, l.loan,
    l.deferred_until
FROM bill_lines l JOIN items i ON i.id = l.item_id JOIN projects p ON p.id = i.project_id
WHERE l.student_id = $1 ORDER BY p.sort_order, p.id, i.sort_order, i.id;

-- name: lines_holds_of_student
-- A student's lines with the hold on each (a line's primary key allows
-- one): what the board and the rules read, in one statement.
SELECT l.id, l.student_id, p.id, p.name, i.id, i.name, l.amount, l.paid, l.mandatory, l.waived, l.refunded, l.loan,
    l.deferred_until, COALESCE(o.order_no, ''), COALESCE(h.until_at, 0)
FROM bill_lines l JOIN items i ON i.id = l.item_id JOIN projects p ON p.id = i.project_id
LEFT JOIN line_holds h ON h.line_id = l.id LEFT JOIN orders o ON o.id = h.order_id
WHERE l.student_id = $1 ORDER BY p.sort_order, p.id, i.sort_order, i.id;

-- name: lines_of_student_lock
-- The lines alone: holds are read by the next statement, whose snapshot
-- (under READ COMMITTED) is taken once these locks are held, so that it
-- sees the holds of a transaction this one waited for.
SELECT l.id, l.student_id, p.id, p.name, i.id, i.name, l.amount, l.paid, l.mandatory, l.waived, l.refunded, l.loan,
    l.deferred_until
FROM bill_lines l JOIN items i ON i.id = l.item_id JOIN projects p ON p.id = i.project_id
WHERE l.student_id = $1 ORDER BY p.sort_order, p.id, i.sort_order, i.id FOR UPDATE OF l;

-- name: holds_of_student
SELECT h.line_id, o.order_no, h.until_at FROM line_holds h
JOIN orders o ON o.id = h.order_id JOIN bill_lines l ON l.id = h.line_id WHERE l.student_id = $1;

-- name: analyze_import
-- Fresh statistics after an import, so the planner uses the indexes on
-- tables that just grew (autovacuum may be off, or not yet have run).
ANALYZE students, projects, items, bill_lines;
