-- Students, their logins and sessions.

-- name: students_of_school
SELECT student_no, name, id_card, grade, major, class_name, phone FROM students WHERE school_id = ?1;

-- name: student_insert
INSERT INTO students (school_id, student_no, name, id_card, grade, major, class_name, phone,
    password_hash, must_change_password, created_at, updated_at)
VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, '', TRUE, ?9, ?9);

-- name: student_update
UPDATE students SET name = ?1, id_card = ?2, grade = ?3, major = ?4, class_name = ?5, phone = ?6, updated_at = ?7
WHERE school_id = ?8 AND student_no = ?9;

-- name: student_by_no
SELECT id, school_id, student_no, name, id_card, grade, major, class_name, phone, password_hash,
    must_change_password, failed_logins, locked_until
FROM students WHERE school_id = ?1 AND student_no = ?2;

-- name: student_by_id
SELECT id, school_id, student_no, name, id_card, grade, major, class_name, phone, password_hash,
    must_change_password, failed_logins, locked_until
FROM students WHERE id = ?1;

-- name: students_count
SELECT COUNT(*) FROM students WHERE school_id = ?1;

-- name: student_set_password
UPDATE students SET password_hash = ?1, must_change_password = FALSE, updated_at = ?2 WHERE id = ?3;

-- name: session_insert
INSERT INTO sessions (token_hash, kind, student_id, csrf, created_at, last_seen, expires_at)
VALUES (?1, ?2, ?3, ?4, ?5, ?5, ?6);

-- name: session_get
SELECT token_hash, kind, student_id, csrf, last_seen, expires_at FROM sessions WHERE token_hash = ?1;

-- name: session_touch
UPDATE sessions SET last_seen = ?1 WHERE token_hash = ?2;

-- name: session_delete
DELETE FROM sessions WHERE token_hash = ?1;

-- name: sessions_delete_student
DELETE FROM sessions WHERE student_id = ?1 AND token_hash <> ?2;

-- name: session_principal
-- A session with its student and school, in one query: the whole cost of
-- authenticating a request.
SELECT se.token_hash, se.kind, se.student_id, se.csrf, se.last_seen, se.expires_at,
    st.id, st.school_id, st.student_no, st.name, st.id_card, st.grade, st.major, st.class_name, st.phone, st.password_hash,
    st.must_change_password, st.failed_logins, st.locked_until,
    sc.id, sc.code, sc.name, sc.region_code, r.name, sc.policy
FROM sessions se JOIN students st ON st.id = se.student_id JOIN schools sc ON sc.id = st.school_id
JOIN regions r ON r.code = sc.region_code
WHERE se.token_hash = ?1;
