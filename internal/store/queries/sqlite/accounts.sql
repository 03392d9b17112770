-- The phone app: SMS codes and their sends (R4), accounts, their tokens,
-- and bindings to students (R6).

-- name: sms_phone_lock
-- The phone's send record, created on its first send. SQLite's write
-- transaction already excludes every other writer: this only creates it.
INSERT INTO sms_phones (phone) VALUES (?1) ON CONFLICT (phone) DO NOTHING;

-- name: sms_sends_since
SELECT sent_at FROM sms_sends WHERE phone = ?1 AND sent_at > ?2;

-- name: sms_send_record
-- ?1 phone, ?2 purpose, ?3 sent at, ?4 code hash, ?5 account, ?6 prune at
-- or before: the send, the phone's new code for the purpose (replacing the
-- old one), and the sends that left the window forgotten.
INSERT INTO sms_sends (phone, purpose, sent_at) VALUES (?1, ?2, ?3);
-- and:
INSERT INTO sms_codes (phone, purpose, code_hash, account_id, issued_at, failed) VALUES (?1, ?2, ?4, ?5, ?3, 0)
ON CONFLICT (phone, purpose) DO UPDATE SET code_hash = excluded.code_hash, account_id = excluded.account_id,
    issued_at = excluded.issued_at, failed = 0;
-- and:
DELETE FROM sms_sends WHERE phone = ?1 AND sent_at <= ?6;

-- name: sms_send_undo
-- A send whose message could not be sent: ?1 phone, ?2 purpose, ?3 sent at.
DELETE FROM sms_sends WHERE phone = ?1 AND purpose = ?2 AND sent_at = ?3;
-- and:
DELETE FROM sms_codes WHERE phone = ?1 AND purpose = ?2 AND issued_at = ?3;

-- name: sms_code_lock
SELECT code_hash, issued_at, failed, account_id FROM sms_codes WHERE phone = ?1 AND purpose = ?2;

-- name: sms_code_try
-- One more wrong try, never past the limit (?3).
UPDATE sms_codes SET failed = failed + 1 WHERE phone = ?1 AND purpose = ?2 AND failed < ?3;

-- name: sms_code_delete
DELETE FROM sms_codes WHERE phone = ?1 AND purpose = ?2;

-- name: account_insert
-- A new account, or no row when the phone has one.
INSERT INTO accounts (phone, password_hash, school_id, created_at, updated_at) VALUES (?1, '', 0, ?2, ?2)
ON CONFLICT (phone) DO NOTHING RETURNING id, phone, password_hash, school_id, created_at;

-- name: account_by_phone
SELECT id, phone, password_hash, school_id, created_at FROM accounts WHERE phone = ?1;

-- name: account_by_id
SELECT id, phone, password_hash, school_id, created_at FROM accounts WHERE id = ?1;

-- name: account_lock
SELECT id, phone, password_hash, school_id, created_at FROM accounts WHERE id = ?1;

-- name: account_set_phone
UPDATE accounts SET phone = ?2, updated_at = ?3 WHERE id = ?1;

-- name: account_set_password
UPDATE accounts SET password_hash = ?2, updated_at = ?3 WHERE id = ?1;

-- name: account_set_school
UPDATE accounts SET school_id = ?2, updated_at = ?3 WHERE id = ?1;

-- name: account_session_insert
INSERT INTO account_sessions (token_hash, account_id, csrf, method, created_at, expires_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6);

-- name: account_session_delete
DELETE FROM account_sessions WHERE token_hash = ?1;

-- name: account_sessions_delete
DELETE FROM account_sessions WHERE account_id = ?1;

-- name: account_session_principal
-- A token's session with its account, in one query: the cost of
-- authenticating an account's request.
SELECT se.token_hash, se.account_id, se.csrf, se.method, se.created_at, se.expires_at,
    a.id, a.phone, a.password_hash, a.school_id, a.created_at
FROM account_sessions se JOIN accounts a ON a.id = se.account_id WHERE se.token_hash = ?1;

-- name: bindings_of
-- An account's students with their schools, in the order bound.
SELECT st.id, st.school_id, st.student_no, st.name, st.id_card, st.grade, st.major, st.class_name, st.phone, st.password_hash,
    st.must_change_password, st.failed_logins, st.locked_until,
    sc.id, sc.code, sc.name, sc.region_code, r.name, sc.policy, b.created_at
FROM bindings b JOIN students st ON st.id = b.student_id JOIN schools sc ON sc.id = st.school_id
JOIN regions r ON r.code = sc.region_code
WHERE b.account_id = ?1 ORDER BY b.created_at, b.student_id;

-- name: binding_of
SELECT st.id, st.school_id, st.student_no, st.name, st.id_card, st.grade, st.major, st.class_name, st.phone, st.password_hash,
    st.must_change_password, st.failed_logins, st.locked_until,
    sc.id, sc.code, sc.name, sc.region_code, r.name, sc.policy, b.created_at
FROM bindings b JOIN students st ON st.id = b.student_id JOIN schools sc ON sc.id = st.school_id
JOIN regions r ON r.code = sc.region_code
WHERE b.account_id = ?1 AND b.student_id = ?2;

-- name: binding_ids
SELECT student_id FROM bindings WHERE account_id = ?1;

-- name: binding_insert
INSERT INTO bindings (account_id, student_id, created_at) VALUES (?1, ?2, ?3);

-- name: binding_delete
DELETE FROM bindings WHERE account_id = ?1 AND student_id = ?2;

-- name: student_bindings
-- The phone accounts bound to a student, for the finance office.
SELECT a.phone, b.created_at FROM bindings b JOIN accounts a ON a.id = b.account_id
WHERE b.student_id = ?1 ORDER BY b.created_at, a.id;
