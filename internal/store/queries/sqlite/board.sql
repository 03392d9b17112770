-- The collection board's summary (migration 00008 explains it). The first
-- parameter of the batch queries is a JSON array of student ids or of rows.

-- name: board_lock
-- One refresher at a time (PostgreSQL); SQLite's write lock is enough.
SELECT 1;

-- name: board_claim
-- Take the oldest marks: they are deleted with the refresh's commit.
DELETE FROM board_dirty WHERE id IN (SELECT id FROM board_dirty ORDER BY id LIMIT ?1)
RETURNING student_id, paid_delta, at;

-- name: board_pending
SELECT COUNT(*) FROM board_dirty;

-- name: board_student_attrs
SELECT id, school_id, grade, major, class_name FROM students WHERE id IN (SELECT value FROM json_each(?1));

-- name: board_line_sums
SELECT l.student_id, i.project_id, SUM(l.amount), SUM(l.paid) FROM bill_lines l JOIN items i ON i.id = l.item_id
WHERE l.student_id IN (SELECT value FROM json_each(?1)) GROUP BY l.student_id, i.project_id;

-- name: board_old_sums
SELECT student_id, project_id, school_id, grade, major, class_name, due, paid FROM board_students
WHERE student_id IN (SELECT value FROM json_each(?1));

-- name: board_students_delete
DELETE FROM board_students WHERE student_id IN (SELECT value FROM json_each(?1));

-- name: board_students_insert
INSERT INTO board_students (student_id, project_id, school_id, grade, major, class_name, due, paid)
SELECT j.value ->> '$.s', j.value ->> '$.p', j.value ->> '$.sc', j.value ->> '$.g', j.value ->> '$.m', j.value ->> '$.c',
    j.value ->> '$.d', j.value ->> '$.pd'
FROM json_each(?1) j WHERE true;

-- name: board_cells_apply
-- Add each cell's difference (rows {sc,p,g,m,c,d,pd,n,f}).
INSERT INTO board_cells (school_id, project_id, grade, major, class_name, due, paid, students, students_full)
SELECT j.value ->> '$.sc', j.value ->> '$.p', j.value ->> '$.g', j.value ->> '$.m', j.value ->> '$.c',
    j.value ->> '$.d', j.value ->> '$.pd', j.value ->> '$.n', j.value ->> '$.f'
FROM json_each(?1) j WHERE true
ON CONFLICT (school_id, project_id, grade, major, class_name) DO UPDATE SET
    due = board_cells.due + excluded.due, paid = board_cells.paid + excluded.paid,
    students = board_cells.students + excluded.students, students_full = board_cells.students_full + excluded.students_full;

-- name: board_cells_prune
DELETE FROM board_cells WHERE students = 0 AND due = 0 AND paid = 0;

-- name: board_hours_apply
INSERT INTO board_hourly (school_id, hour, amount, payments)
SELECT j.value ->> '$.sc', j.value ->> '$.h', j.value ->> '$.a', j.value ->> '$.n' FROM json_each(?1) j WHERE true
ON CONFLICT (school_id, hour) DO UPDATE SET amount = board_hourly.amount + excluded.amount,
    payments = board_hourly.payments + excluded.payments;

-- name: board_cells_of_school
SELECT project_id, grade, major, class_name, due, paid, students, students_full FROM board_cells WHERE school_id = ?1;

-- name: board_hours_of_school
SELECT hour, amount, payments FROM board_hourly WHERE school_id = ?1 AND hour >= ?2 ORDER BY hour;
