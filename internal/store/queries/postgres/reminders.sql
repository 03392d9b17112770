-- Payment reminders: the students who owe mandatory items, the sends and
-- each student's reminder (an SMS, or a notice on the portal and the app).

-- name: reminder_candidates
-- Students of school $1 owing mandatory lines (of project $5 unless 0), of
-- grade $2, major $3 and class $4 unless '': how many lines and how much,
-- the roll's phone, the phone of the first account bound to them, and
-- when they were last reminded (0: never).
SELECT s.id, s.student_no, s.name, s.grade, s.major, s.class_name, s.phone, COUNT(*), SUM(l.amount - l.paid)::BIGINT,
    COALESCE((SELECT a.phone FROM bindings b JOIN accounts a ON a.id = b.account_id
        WHERE b.student_id = s.id ORDER BY b.created_at, b.account_id LIMIT 1), ''),
    COALESCE((SELECT MAX(r.created_at) FROM reminders r WHERE r.student_id = s.id), 0)
FROM students s JOIN bill_lines l ON l.student_id = s.id JOIN items i ON i.id = l.item_id
WHERE s.school_id = $1 AND l.mandatory AND l.paid < l.amount
    AND ($2 = '' OR s.grade = $2) AND ($3 = '' OR s.major = $3) AND ($4 = '' OR s.class_name = $4)
    AND ($5 = 0 OR i.project_id = $5)
    AND l.deferred_until <= $6 -- a deferred line (缓缴) is not overdue until its date
GROUP BY s.id, s.student_no, s.name, s.grade, s.major, s.class_name, s.phone
ORDER BY s.student_no;

-- name: reminder_lock
-- A school's sends queue on the school's row: a second send reads the
-- students only after the first committed its reminders.
SELECT id FROM schools WHERE id = $1 FOR UPDATE;

-- name: reminder_batch_insert
INSERT INTO reminder_batches (school_id, staff_id, staff_name, filter, students, skipped, deferred, created_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id;

-- name: reminders_insert
-- A batch's rows in one statement ($3: JSON [{"s","c","p","i","o","st"}]).
INSERT INTO reminders (batch_id, school_id, student_id, channel, phone, items, owed, status, created_at)
SELECT $1, $2, j.s, j.c, j.p, j.i, j.o, j.st, $4
FROM jsonb_to_recordset($3::jsonb) AS j(s BIGINT, c TEXT, p TEXT, i INTEGER, o BIGINT, st TEXT);

-- name: reminder_result
-- The provider's answer to a pending SMS: sent, or failed and a notice now.
UPDATE reminders SET status = $1, channel = $2, error = $3, sent_at = $4
WHERE batch_id = $5 AND student_id = $6 AND status = 'pending';

-- name: reminder_batches
-- A school's sends, newest first (only batch $2 unless 0), with how their
-- SMS went.
SELECT b.id, b.school_id, b.staff_id, b.staff_name, b.filter, b.students, b.skipped, b.deferred, b.created_at,
    COUNT(*) FILTER (WHERE r.status = 'sent'),
    COUNT(*) FILTER (WHERE r.status = 'failed'),
    COUNT(*) FILTER (WHERE r.status = 'pending'),
    COUNT(*) FILTER (WHERE r.status = 'shown')
FROM reminder_batches b LEFT JOIN reminders r ON r.batch_id = b.id
WHERE b.school_id = $1 AND ($2 = 0 OR b.id = $2)
GROUP BY b.id
ORDER BY b.id DESC LIMIT $3;

-- name: reminder_notices
-- A student's newest notice neither dismissed nor settled: what is unpaid
-- now of the mandatory lines billed before it was sent.
SELECT r.id, r.created_at, COUNT(*), SUM(l.amount - l.paid)::BIGINT
FROM reminders r JOIN bill_lines l ON l.student_id = r.student_id
WHERE r.student_id = $1 AND r.channel = 'notice' AND r.dismissed_at = 0
    AND l.mandatory AND l.paid < l.amount AND l.created_at <= r.created_at
GROUP BY r.id, r.created_at
ORDER BY r.id DESC LIMIT 1;

-- name: reminder_dismiss
-- The student's notice $3 and every older one.
UPDATE reminders SET dismissed_at = $1
WHERE student_id = $2 AND id <= $3 AND channel = 'notice' AND dismissed_at = 0;
