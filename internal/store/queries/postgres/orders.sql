-- Orders, their lines and events, payments received, refunds, suspense,
-- idempotency keys.

-- name: order_insert
INSERT INTO orders (order_no, school_id, student_id, channel, amount, status, mobile, created_at, expires_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING id;

-- name: order_lines_insert
-- All the order's lines in one statement ($2: JSON [{"line_id","amount"}]).
INSERT INTO order_lines (order_id, line_id, amount)
SELECT $1, x.line_id, x.amount FROM jsonb_to_recordset($2::jsonb) AS x(line_id BIGINT, amount BIGINT);

-- name: holds_insert
-- R9: the line's primary key makes a second hold impossible.
INSERT INTO line_holds (line_id, order_id, until_at)
SELECT x.line_id, $1, $3 FROM jsonb_to_recordset($2::jsonb) AS x(line_id BIGINT, amount BIGINT);

-- name: order_events_insert
-- Several events of one order in one statement ($2: JSON [{"from","to","cause"}]), in order.
INSERT INTO order_events (order_id, from_status, to_status, cause, at)
SELECT $1, x."from", x."to", x.cause, $3
FROM ROWS FROM (jsonb_to_recordset($2::jsonb) AS ("from" TEXT, "to" TEXT, cause TEXT)) WITH ORDINALITY AS x("from", "to", cause, n)
ORDER BY x.n;

-- name: order_event_insert
INSERT INTO order_events (order_id, from_status, to_status, cause, at) VALUES ($1, $2, $3, $4, $5);

-- name: order_by_no
SELECT id, order_no, school_id, student_id, channel, amount, status, mobile, created_at, expires_at, paid_at, closed_at,
    channel_txn_id, card_type, masked_card, failure_code, failure_message, refunded, failure_channel_code, failure_limit
FROM orders WHERE order_no = $1;

-- name: order_by_no_lock
SELECT id, order_no, school_id, student_id, channel, amount, status, mobile, created_at, expires_at, paid_at, closed_at,
    channel_txn_id, card_type, masked_card, failure_code, failure_message, refunded, failure_channel_code, failure_limit
FROM orders WHERE order_no = $1 FOR UPDATE;

-- name: order_with_lines
-- An order and its lines in one query (a row per line).
SELECT o.id, o.order_no, o.school_id, o.student_id, o.channel, o.amount, o.status, o.mobile, o.created_at, o.expires_at,
    o.paid_at, o.closed_at, o.channel_txn_id, o.card_type, o.masked_card, o.failure_code, o.failure_message, o.refunded,
    o.failure_channel_code, o.failure_limit, ol.line_id, p.name, i.name, ol.amount
FROM orders o JOIN order_lines ol ON ol.order_id = o.id JOIN bill_lines l ON l.id = ol.line_id
JOIN items i ON i.id = l.item_id JOIN projects p ON p.id = i.project_id
WHERE o.order_no = $1 ORDER BY p.id, i.id;

-- name: order_with_lines_lock
SELECT o.id, o.order_no, o.school_id, o.student_id, o.channel, o.amount, o.status, o.mobile, o.created_at, o.expires_at,
    o.paid_at, o.closed_at, o.channel_txn_id, o.card_type, o.masked_card, o.failure_code, o.failure_message, o.refunded,
    o.failure_channel_code, o.failure_limit, ol.line_id, p.name, i.name, ol.amount
FROM orders o JOIN order_lines ol ON ol.order_id = o.id JOIN bill_lines l ON l.id = ol.line_id
JOIN items i ON i.id = l.item_id JOIN projects p ON p.id = i.project_id
WHERE o.order_no = $1 ORDER BY p.id, i.id FOR UPDATE OF o;

-- name: order_lines_of
SELECT ol.line_id, p.name, i.name, ol.amount FROM order_lines ol
JOIN bill_lines l ON l.id = ol.line_id JOIN items i ON i.id = l.item_id JOIN projects p ON p.id = i.project_id
WHERE ol.order_id = $1 ORDER BY p.id, i.id;

-- name: orders_of_student
SELECT id, order_no, school_id, student_id, channel, amount, status, mobile, created_at, expires_at, paid_at, closed_at,
    channel_txn_id, card_type, masked_card, failure_code, failure_message, refunded, failure_channel_code, failure_limit
FROM orders WHERE student_id = $1 ORDER BY created_at DESC, id DESC;

-- name: order_lines_of_student
-- Driven from the student's order ids, each line's names looked up by
-- primary key (OFFSET 0 keeps the lookup a nested loop): a generic plan
-- made while order_lines was small would otherwise keep scanning the
-- whole table as it grows.
SELECT ol.order_id, ol.line_id, n.pname, n.iname, ol.amount
FROM order_lines ol, LATERAL (
  SELECT p.name AS pname, i.name AS iname, p.id AS pid, i.id AS iid
  FROM bill_lines l JOIN items i ON i.id = l.item_id JOIN projects p ON p.id = i.project_id
  WHERE l.id = ol.line_id OFFSET 0) n
WHERE ol.order_id = ANY (ARRAY(SELECT o.id FROM orders o WHERE o.student_id = $1))
ORDER BY ol.order_id, n.pid, n.iid;

-- name: order_events_of
SELECT e.from_status, e.to_status, e.cause, e.at FROM order_events e
JOIN orders o ON o.id = e.order_id WHERE o.order_no = $1 ORDER BY e.id;

-- name: lock_for_payment
-- The order and its bill lines, locked, and whether this channel
-- transaction is recorded already.
SELECT o.id, o.order_no, o.school_id, o.student_id, o.channel, o.amount, o.status, o.mobile, o.created_at, o.expires_at,
    o.paid_at, o.closed_at, o.channel_txn_id, o.card_type, o.masked_card, o.failure_code, o.failure_message, o.refunded,
    o.failure_channel_code, o.failure_limit,
    ol.line_id, p.id, p.name, i.id, i.name, ol.amount, l.amount, l.paid, l.mandatory,
    EXISTS (SELECT 1 FROM payments_received r WHERE r.channel = $2 AND r.channel_txn_id = $3)
FROM orders o JOIN order_lines ol ON ol.order_id = o.id JOIN bill_lines l ON l.id = ol.line_id
JOIN items i ON i.id = l.item_id JOIN projects p ON p.id = i.project_id
WHERE o.order_no = $1 ORDER BY p.id, i.id FOR UPDATE OF o, l;

-- name: order_move
-- A status change and its event (I3) in one statement. Guarded: the
-- order must still be in the status the caller read ($13), else no
-- event is written and the transaction is undone.
WITH u AS (
UPDATE orders SET status = $1,
    paid_at = CASE WHEN $2::BIGINT > 0 THEN $2 ELSE paid_at END,
    closed_at = CASE WHEN $3::BIGINT > 0 THEN $3 ELSE closed_at END,
    channel_txn_id = CASE WHEN $4::TEXT <> '' THEN $4 ELSE channel_txn_id END,
    card_type = CASE WHEN $5::TEXT <> '' THEN $5 ELSE card_type END,
    masked_card = CASE WHEN $6::TEXT <> '' THEN $6 ELSE masked_card END,
    failure_code = CASE WHEN $7::BOOLEAN THEN $8 ELSE failure_code END,
    failure_message = CASE WHEN $7::BOOLEAN THEN $9 ELSE failure_message END,
    failure_channel_code = CASE WHEN $7::BOOLEAN THEN $10 ELSE failure_channel_code END,
    failure_limit = CASE WHEN $7::BOOLEAN THEN $11 ELSE failure_limit END
WHERE id = $12 AND status = $13
    RETURNING id)
INSERT INTO order_events (order_id, from_status, to_status, cause, at) SELECT id, $13, $1, $14, $15 FROM u;

-- name: order_set_failure
UPDATE orders SET failure_code = $1, failure_message = $2, failure_channel_code = $3, failure_limit = $4
WHERE id = $5 AND status = $6;

-- name: holds_release
DELETE FROM line_holds WHERE order_id = $1;

-- name: lines_pay
-- Every line of the order at once; the guard refuses to pay a line past
-- its amount (the service decided; this proves it). The lines are named
-- by their ids (= ANY), so the plan is an index lookup whatever the
-- table's statistics say.
UPDATE bill_lines AS l SET paid = l.paid + ol.amount, updated_at = $2
FROM order_lines ol
WHERE l.id = ANY (ARRAY(SELECT x.line_id FROM order_lines x WHERE x.order_id = $1))
  AND ol.order_id = $1 AND ol.line_id = l.id AND l.paid + ol.amount <= l.amount;

-- name: payment_insert
INSERT INTO payments_received (order_id, channel, channel_txn_id, amount, card_type, disposition, source, received_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8);

-- name: payments_count
SELECT disposition, COUNT(*) FROM payments_received GROUP BY disposition;

-- name: refund_insert
INSERT INTO refunds (refund_no, order_id, payment_id, amount, reason, status, created_at, updated_at)
SELECT $1, $2, p.id, $3, $4, $5, $6, $6 FROM payments_received p WHERE p.channel = $7 AND p.channel_txn_id = $8;

-- name: refund_set
UPDATE refunds SET status = $1, channel_refund_id = $2, updated_at = $3 WHERE refund_no = $4 AND status = $5;

-- name: suspense_seen
SELECT COUNT(*) FROM suspense WHERE channel = $1 AND channel_txn_id = $2;

-- name: suspense_insert
INSERT INTO suspense (school_id, channel, merchant_id, order_no, channel_txn_id, amount, reason, raw, received_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9);

-- name: idem_insert
INSERT INTO idempotency_keys (student_id, key, request_hash, order_id, created_at) VALUES ($1, $2, $3, $4, $5);

-- name: idem_get
SELECT o.order_no, k.request_hash FROM idempotency_keys k JOIN orders o ON o.id = k.order_id
WHERE k.student_id = $1 AND k.key = $2;

-- name: idem_expire
DELETE FROM idempotency_keys WHERE created_at < $1;
