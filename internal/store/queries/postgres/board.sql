-- The collection board's summary (migration 00008 explains it). The first
-- parameter of the batch queries is a JSON array of student ids or of rows.

-- name: board_lock
-- One refresher at a time; payments never take this lock.
SELECT pg_advisory_xact_lock(74110);

-- name: board_claim
-- Take the oldest marks: they are deleted with the refresh's commit.
DELETE FROM board_dirty WHERE id IN (SELECT id FROM board_dirty ORDER BY id LIMIT $1 FOR UPDATE SKIP LOCKED)
RETURNING student_id, paid_delta, at;

-- name: board_pending
SELECT COUNT(*) FROM board_dirty;

-- name: board_student_attrs
SELECT id, school_id, grade, major, class_name FROM students WHERE id = ANY (ARRAY(SELECT jsonb_array_elements_text($1::jsonb)::BIGINT));

-- name: board_line_sums
SELECT l.student_id, i.project_id, SUM(l.amount), SUM(l.paid) FROM bill_lines l JOIN items i ON i.id = l.item_id
WHERE l.student_id = ANY (ARRAY(SELECT jsonb_array_elements_text($1::jsonb)::BIGINT)) GROUP BY l.student_id, i.project_id;

-- name: board_old_sums
SELECT student_id, project_id, school_id, grade, major, class_name, due, paid FROM board_students
WHERE student_id = ANY (ARRAY(SELECT jsonb_array_elements_text($1::jsonb)::BIGINT));

-- name: board_students_delete
DELETE FROM board_students WHERE student_id = ANY (ARRAY(SELECT jsonb_array_elements_text($1::jsonb)::BIGINT));

-- name: board_students_insert
INSERT INTO board_students (student_id, project_id, school_id, grade, major, class_name, due, paid)
SELECT j.s, j.p, j.sc, j.g, j.m, j.c, j.d, j.pd
FROM jsonb_to_recordset($1::jsonb) AS j(s BIGINT, p BIGINT, sc BIGINT, g TEXT, m TEXT, c TEXT, d BIGINT, pd BIGINT);

-- name: board_cells_apply
-- Add each cell's difference (rows {sc,p,g,m,c,d,pd,n,f}).
INSERT INTO board_cells (school_id, project_id, grade, major, class_name, due, paid, students, students_full)
SELECT j.sc, j.p, j.g, j.m, j.c, j.d, j.pd, j.n, j.f
FROM jsonb_to_recordset($1::jsonb) AS j(sc BIGINT, p BIGINT, g TEXT, m TEXT, c TEXT, d BIGINT, pd BIGINT, n INTEGER, f INTEGER)
ON CONFLICT (school_id, project_id, grade, major, class_name) DO UPDATE SET
    due = board_cells.due + excluded.due, paid = board_cells.paid + excluded.paid,
    students = board_cells.students + excluded.students, students_full = board_cells.students_full + excluded.students_full;

-- name: board_cells_prune
DELETE FROM board_cells WHERE students = 0 AND due = 0 AND paid = 0;

-- name: board_hours_apply
INSERT INTO board_hourly (school_id, hour, amount, payments)
SELECT j.sc, j.h, j.a, j.n FROM jsonb_to_recordset($1::jsonb) AS j(sc BIGINT, h BIGINT, a BIGINT, n INTEGER)
ON CONFLICT (school_id, hour) DO UPDATE SET amount = board_hourly.amount + excluded.amount,
    payments = board_hourly.payments + excluded.payments;

-- name: board_cells_of_school
SELECT project_id, grade, major, class_name, due, paid, students, students_full FROM board_cells WHERE school_id = $1;

-- name: board_hours_of_school
SELECT hour, amount, payments FROM board_hourly WHERE school_id = $1 AND hour >= $2 ORDER BY hour;
