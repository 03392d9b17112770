-- The finance office's console: staff and their sessions, fee setup,
-- imports, the collection board's summary, one student's page, exports.

-- name: staff_insert
INSERT INTO staff (school_id, username, display_name, role, password_hash, must_change_password, totp_secret, created_at, updated_at)
VALUES (NULLIF($1::BIGINT, 0), $2, $3, $4, $5, $6, $7, $8, $8) RETURNING id;

-- name: staff_by_username
SELECT s.id, COALESCE(s.school_id, 0), COALESCE(sc.code, ''), s.username, s.display_name, s.role, s.password_hash,
    s.must_change_password, s.totp_secret, s.totp_pending, s.totp_last_step, s.disabled, s.created_at
FROM staff s LEFT JOIN schools sc ON sc.id = s.school_id WHERE s.username = $1;

-- name: staff_by_id
SELECT s.id, COALESCE(s.school_id, 0), COALESCE(sc.code, ''), s.username, s.display_name, s.role, s.password_hash,
    s.must_change_password, s.totp_secret, s.totp_pending, s.totp_last_step, s.disabled, s.created_at
FROM staff s LEFT JOIN schools sc ON sc.id = s.school_id WHERE s.id = $1;

-- name: staff_by_id_lock
SELECT s.id, COALESCE(s.school_id, 0), COALESCE(sc.code, ''), s.username, s.display_name, s.role, s.password_hash,
    s.must_change_password, s.totp_secret, s.totp_pending, s.totp_last_step, s.disabled, s.created_at
FROM staff s LEFT JOIN schools sc ON sc.id = s.school_id WHERE s.id = $1 FOR UPDATE OF s;

-- name: staff_of_school
-- A school's staff; school 0 is the platform's operators.
SELECT s.id, COALESCE(s.school_id, 0), COALESCE(sc.code, ''), s.username, s.display_name, s.role, s.password_hash,
    s.must_change_password, s.totp_secret, s.totp_pending, s.totp_last_step, s.disabled, s.created_at
FROM staff s LEFT JOIN schools sc ON sc.id = s.school_id
WHERE COALESCE(s.school_id, 0) = $1 ORDER BY s.role, s.username;

-- name: staff_update
UPDATE staff SET display_name = $1, password_hash = $2, must_change_password = $3, totp_secret = $4, totp_pending = $5,
    disabled = $6, updated_at = $7
WHERE id = $8;

-- name: staff_totp_step
-- A code is good once: its 30-second step must be later than the last one used.
UPDATE staff SET totp_last_step = $2 WHERE id = $1 AND totp_last_step < $2;

-- name: staff_recovery_insert
INSERT INTO staff_recovery_codes (staff_id, code_hash) VALUES ($1, $2);

-- name: staff_recovery_clear
DELETE FROM staff_recovery_codes WHERE staff_id = $1;

-- name: staff_recovery_use
UPDATE staff_recovery_codes SET used_at = $3 WHERE staff_id = $1 AND code_hash = $2 AND used_at = 0;

-- name: staff_session_insert
INSERT INTO staff_sessions (token_hash, staff_id, kind, csrf, client, created_at, last_seen, expires_at)
VALUES ($1, $2, $3, $4, $5, $6, $6, $7);

-- name: staff_session_get
-- A session with its staff member, in one query.
SELECT se.token_hash, se.staff_id, se.kind, se.csrf, se.client, se.created_at, se.last_seen, se.expires_at,
    s.id, COALESCE(s.school_id, 0), COALESCE(sc.code, ''), s.username, s.display_name, s.role, s.password_hash,
    s.must_change_password, s.totp_secret, s.totp_pending, s.totp_last_step, s.disabled, s.created_at
FROM staff_sessions se JOIN staff s ON s.id = se.staff_id LEFT JOIN schools sc ON sc.id = s.school_id
WHERE se.token_hash = $1;

-- name: staff_session_touch
UPDATE staff_sessions SET last_seen = $1 WHERE token_hash = $2;

-- name: staff_session_delete
DELETE FROM staff_sessions WHERE token_hash = $1;

-- name: staff_sessions_delete
DELETE FROM staff_sessions WHERE staff_id = $1 AND token_hash <> $2;

-- name: fee_projects
SELECT id, name, sort_order FROM projects WHERE school_id = $1 ORDER BY sort_order, id;

-- name: fee_items
SELECT i.id, i.project_id, i.name, i.sort_order, i.mandatory FROM items i JOIN projects p ON p.id = i.project_id
WHERE p.school_id = $1 ORDER BY i.sort_order, i.id;

-- name: project_create
INSERT INTO projects (school_id, name, sort_order) VALUES ($1, $2, $3) RETURNING id;

-- name: project_update
UPDATE projects SET name = $1, sort_order = $2 WHERE id = $3 AND school_id = $4;

-- name: project_get
SELECT id, name, sort_order FROM projects WHERE id = $1 AND school_id = $2;

-- name: item_create
-- Only under a project of the same school.
INSERT INTO items (project_id, name, sort_order, mandatory)
SELECT $1::BIGINT, $2::TEXT, $3::INTEGER, $4::BOOLEAN WHERE EXISTS (SELECT 1 FROM projects WHERE id = $1 AND school_id = $5) RETURNING id;

-- name: item_get
SELECT i.id, i.project_id, i.name, i.sort_order, i.mandatory FROM items i JOIN projects p ON p.id = i.project_id
WHERE i.id = $1 AND p.school_id = $2;

-- name: item_update
UPDATE items SET name = $1, sort_order = $2, mandatory = $3
WHERE id = $4 AND project_id IN (SELECT id FROM projects WHERE school_id = $5);

-- name: item_lines_mandatory
-- The flag of the item's lines still owed (R7 reads it); money is untouched.
UPDATE bill_lines SET mandatory = $1 WHERE item_id = $2 AND paid < amount AND mandatory <> $1;

-- name: standards_of_school
SELECT id, school_id, grade, major, dorm_type, project, item, amount, mandatory FROM fee_standards
WHERE school_id = $1 ORDER BY grade, major, dorm_type, project, item;

-- name: standard_get
SELECT id, school_id, grade, major, dorm_type, project, item, amount, mandatory FROM fee_standards
WHERE id = $1 AND school_id = $2;

-- name: standard_save
INSERT INTO fee_standards (school_id, grade, major, dorm_type, project, item, amount, mandatory, created_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
ON CONFLICT (school_id, grade, major, dorm_type, project, item) DO UPDATE SET amount = excluded.amount, mandatory = excluded.mandatory
RETURNING id;

-- name: standard_delete
DELETE FROM fee_standards WHERE id = $1 AND school_id = $2;

-- name: cohort_students
SELECT s.student_no, s.major, COALESCE(d.dorm_type, '') FROM students s LEFT JOIN student_dorms d ON d.student_id = s.id
WHERE s.school_id = $1 AND s.grade = $2 ORDER BY s.student_no;

-- name: dorm_counts
SELECT d.dorm_type, COUNT(*) FROM student_dorms d JOIN students s ON s.id = d.student_id
WHERE s.school_id = $1 GROUP BY d.dorm_type ORDER BY d.dorm_type;

-- name: dorm_set
INSERT INTO student_dorms (student_id, dorm_type, updated_at)
SELECT id, $3::TEXT, $4::BIGINT FROM students WHERE school_id = $1 AND student_no = $2
ON CONFLICT (student_id) DO UPDATE SET dorm_type = excluded.dorm_type, updated_at = excluded.updated_at;

-- name: import_batch_insert
INSERT INTO import_batches (school_id, kind, filename, file_hash, size, status, rows_total, created, updated, unchanged,
    problems, staff_id, created_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13) RETURNING id;

-- name: import_file_insert
INSERT INTO import_files (batch_id, content) VALUES ($1, $2);

-- name: import_batch_lock
SELECT b.id, b.school_id, b.kind, b.filename, b.file_hash, b.size, b.status, b.rows_total, b.created, b.updated, b.unchanged,
    b.problems, b.staff_id, s.username, b.created_at, b.applied_by, b.applied_at
FROM import_batches b JOIN staff s ON s.id = b.staff_id WHERE b.id = $1 AND b.school_id = $2 FOR UPDATE OF b;

-- name: import_file_get
SELECT content FROM import_files WHERE batch_id = $1;

-- name: import_batch_finish
-- Guarded: a batch is applied (or refused at confirmation) once.
UPDATE import_batches SET status = $1, rows_total = $2, created = $3, updated = $4, unchanged = $5, problems = $6,
    applied_by = $7, applied_at = $8
WHERE id = $9 AND status = 'previewed';

-- name: import_file_delete
DELETE FROM import_files WHERE batch_id = $1;

-- name: import_batches_of_school
SELECT b.id, b.school_id, b.kind, b.filename, b.file_hash, b.size, b.status, b.rows_total, b.created, b.updated, b.unchanged,
    b.problems, b.staff_id, s.username, b.created_at, b.applied_by, b.applied_at
FROM import_batches b JOIN staff s ON s.id = b.staff_id WHERE b.school_id = $1 ORDER BY b.id DESC LIMIT $2;

-- name: students_search
-- By 学号 (exact or prefix), 姓名 (exact or prefix) or phone; $3 is $2
-- with LIKE's wildcards escaped, followed by %.
SELECT s.id, s.student_no, s.name, s.grade, s.major, s.class_name, s.phone, COALESCE(b.due, 0), COALESCE(b.paid, 0)
FROM students s LEFT JOIN board_students b ON b.student_id = s.id AND b.project_id = 0
WHERE s.school_id = $1 AND (s.student_no = $2 OR s.name = $2 OR s.phone = $2
    OR s.student_no LIKE $3 ESCAPE '\' OR s.name LIKE $3 ESCAPE '\')
ORDER BY s.student_no LIMIT $4;

-- name: student_journal
SELECT e.id, e.kind, e.ref, e.memo, p.amount, e.created_at FROM journal_postings p
JOIN journal_entries e ON e.id = p.entry_id WHERE p.account = $1 ORDER BY e.id, p.id;

-- name: export_payments
-- Every success a channel reported for the school's orders in [$2, $3),
-- with the items each order paid.
SELECT p.received_at, o.order_no, s.student_no, s.name, s.grade, s.major, s.class_name, p.channel, p.channel_txn_id,
    p.amount, p.disposition,
    COALESCE((SELECT string_agg(pr.name || '/' || i.name, '；' ORDER BY ol.line_id) FROM order_lines ol JOIN bill_lines l ON l.id = ol.line_id
        JOIN items i ON i.id = l.item_id JOIN projects pr ON pr.id = i.project_id WHERE ol.order_id = o.id), '')
FROM payments_received p JOIN orders o ON o.id = p.order_id JOIN students s ON s.id = o.student_id
WHERE o.school_id = $1 AND p.received_at >= $2 AND p.received_at < $3 ORDER BY p.received_at, p.id;

-- name: export_outstanding
-- Every bill line still owed, student by student (the indexes' order: no sort).
SELECT s.student_no, s.name, s.grade, s.major, s.class_name, s.phone, p.name, i.name, l.mandatory, l.amount, l.paid
FROM students s JOIN bill_lines l ON l.student_id = s.id JOIN items i ON i.id = l.item_id JOIN projects p ON p.id = i.project_id
WHERE s.school_id = $1 AND l.paid < l.amount ORDER BY s.student_no, l.item_id;
