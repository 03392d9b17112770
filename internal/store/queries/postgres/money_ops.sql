-- The finance office's money operations: office refunds and their lines,
-- the bill lines they change, suspense resolution, money requests
-- (approvals) and their adjustments.

-- name: refund_get_any
-- A refund with what paying it out needs: of an order's payment, or of a
-- suspense entry (no order, no payment row).
SELECT r.refund_no, COALESCE(r.order_id, 0), COALESCE(o.order_no, s.order_no, ''), COALESCE(o.school_id, s.school_id, 0),
    COALESCE(p.channel, s.channel, ''), COALESCE(p.channel_txn_id, s.channel_txn_id, ''), COALESCE(p.amount, s.amount, 0), r.amount,
    r.reason, r.status, r.channel_refund_id, r.created_at, r.id, r.kind, COALESCE(r.payment_id, 0), COALESCE(r.suspense_id, 0),
    COALESCE(r.request_id, 0), COALESCE(p.disposition, '')
FROM refunds r LEFT JOIN orders o ON o.id = r.order_id LEFT JOIN payments_received p ON p.id = r.payment_id
LEFT JOIN suspense s ON s.id = r.suspense_id WHERE r.refund_no = $1;

-- name: refund_get_any_lock
SELECT r.refund_no, COALESCE(r.order_id, 0), COALESCE(o.order_no, s.order_no, ''), COALESCE(o.school_id, s.school_id, 0),
    COALESCE(p.channel, s.channel, ''), COALESCE(p.channel_txn_id, s.channel_txn_id, ''), COALESCE(p.amount, s.amount, 0), r.amount,
    r.reason, r.status, r.channel_refund_id, r.created_at, r.id, r.kind, COALESCE(r.payment_id, 0), COALESCE(r.suspense_id, 0),
    COALESCE(r.request_id, 0), COALESCE(p.disposition, '')
FROM refunds r LEFT JOIN orders o ON o.id = r.order_id LEFT JOIN payments_received p ON p.id = r.payment_id
LEFT JOIN suspense s ON s.id = r.suspense_id WHERE r.refund_no = $1 FOR UPDATE OF r;

-- name: office_refund_insert
INSERT INTO refunds (refund_no, order_id, payment_id, amount, reason, status, created_at, updated_at, kind, suspense_id, request_id)
VALUES ($1, NULLIF($2::BIGINT, 0), NULLIF($3::BIGINT, 0), $4, $5, $6, $7, $7, $8, NULLIF($9::BIGINT, 0), NULLIF($10::BIGINT, 0))
RETURNING id;

-- name: office_refund_lines_insert
-- $2: JSON [{"line_id","amount"}].
INSERT INTO refund_lines (refund_id, line_id, amount)
SELECT $1, x.line_id, x.amount FROM jsonb_to_recordset($2::jsonb) AS x(line_id BIGINT, amount BIGINT);

-- name: office_refund_lines
SELECT line_id, amount FROM refund_lines WHERE refund_id = $1 ORDER BY line_id;

-- name: office_order_payments
-- An order's payments with what loans replaced of them and the refunds
-- made or under way of each kind.
SELECT p.id, p.channel, p.channel_txn_id, p.amount, p.disposition,
    COALESCE((SELECT SUM(a.displaced) FROM adjustments a WHERE a.payment_id = p.id), 0),
    COALESCE((SELECT SUM(r.amount) FROM refunds r WHERE r.payment_id = p.id AND r.kind = 'order' AND r.status <> 'failed'), 0),
    COALESCE((SELECT SUM(r.amount) FROM refunds r WHERE r.payment_id = p.id AND r.kind = 'overpayment' AND r.status <> 'failed'), 0)
FROM payments_received p WHERE p.order_id = $1 ORDER BY p.id;

-- name: office_order_lines_lock
-- An order's bill lines, locked, with what the order paid on each, what
-- its refunds took off and what loans replaced of its payment there.
SELECT l.id, l.student_id, p.id, p.name, i.id, i.name, l.amount, l.paid, l.mandatory, l.waived, l.refunded, l.loan,
    l.deferred_until, ol.amount,
    COALESCE((SELECT SUM(rl.amount) FROM refund_lines rl JOIN refunds r ON r.id = rl.refund_id
        WHERE rl.line_id = l.id AND r.order_id = ol.order_id AND r.status <> 'failed'), 0),
    COALESCE((SELECT SUM(a.displaced) FROM adjustments a JOIN payments_received pr ON pr.id = a.payment_id
        WHERE a.line_id = l.id AND pr.order_id = ol.order_id), 0)
FROM order_lines ol JOIN bill_lines l ON l.id = ol.line_id JOIN items i ON i.id = l.item_id JOIN projects p ON p.id = i.project_id
WHERE ol.order_id = $1 ORDER BY p.sort_order, p.id, i.sort_order, i.id FOR UPDATE OF l;

-- name: office_order_lines
SELECT l.id, l.student_id, p.id, p.name, i.id, i.name, l.amount, l.paid, l.mandatory, l.waived, l.refunded, l.loan,
    l.deferred_until, ol.amount,
    COALESCE((SELECT SUM(rl.amount) FROM refund_lines rl JOIN refunds r ON r.id = rl.refund_id
        WHERE rl.line_id = l.id AND r.order_id = ol.order_id AND r.status <> 'failed'), 0),
    COALESCE((SELECT SUM(a.displaced) FROM adjustments a JOIN payments_received pr ON pr.id = a.payment_id
        WHERE a.line_id = l.id AND pr.order_id = ol.order_id), 0)
FROM order_lines ol JOIN bill_lines l ON l.id = ol.line_id JOIN items i ON i.id = l.item_id JOIN projects p ON p.id = i.project_id
WHERE ol.order_id = $1 ORDER BY p.sort_order, p.id, i.sort_order, i.id;

-- name: office_line_orders_lock
-- The orders that hold or paid a line, locked in order number order (as
-- payments lock them) before the line itself.
SELECT o.id FROM orders o WHERE o.id IN (SELECT ol.order_id FROM order_lines ol WHERE ol.line_id = $1)
ORDER BY o.order_no FOR UPDATE;

-- name: office_line_lock
-- A line, locked, with its school and the open order holding it ($2: now).
SELECT l.id, l.student_id, p.id, p.name, i.id, i.name, l.amount, l.paid, l.mandatory, l.waived, l.refunded, l.loan,
    l.deferred_until, s.school_id,
    COALESCE((SELECT o.order_no FROM line_holds h JOIN orders o ON o.id = h.order_id WHERE h.line_id = l.id AND h.until_at > $2), '')
FROM bill_lines l JOIN students s ON s.id = l.student_id JOIN items i ON i.id = l.item_id JOIN projects p ON p.id = i.project_id
WHERE l.id = $1 FOR UPDATE OF l;

-- name: office_line_payers
-- The applied payments that paid a line, oldest first, with what of each
-- still counts on the line.
SELECT o.order_no, pr.id, ol.amount
    - COALESCE((SELECT SUM(rl.amount) FROM refund_lines rl JOIN refunds r ON r.id = rl.refund_id
        WHERE rl.line_id = ol.line_id AND r.order_id = o.id AND r.status <> 'failed'), 0)
    - COALESCE((SELECT SUM(a.displaced) FROM adjustments a WHERE a.line_id = ol.line_id AND a.payment_id = pr.id), 0)
FROM order_lines ol JOIN orders o ON o.id = ol.order_id JOIN payments_received pr ON pr.order_id = o.id AND pr.disposition = 'applied'
WHERE ol.line_id = $1 ORDER BY pr.id;

-- name: office_line_set
-- Guarded: the line must still be as the caller read it.
UPDATE bill_lines SET amount = $1, paid = $2, waived = $3, refunded = $4, loan = $5, deferred_until = $6, updated_at = $7
WHERE id = $8 AND amount = $9 AND paid = $10 AND waived = $11 AND refunded = $12 AND loan = $13 AND deferred_until = $14;

-- name: office_order_refunded
UPDATE orders SET refunded = $1 WHERE id = $2 AND refunded = $3;

-- name: office_suspense_lock
SELECT id, COALESCE(school_id, 0), channel, merchant_id, order_no, channel_txn_id, amount, reason, status, received_at, resolved_at
FROM suspense WHERE id = $1 FOR UPDATE;

-- name: office_suspense_set
UPDATE suspense SET status = $1, resolved_at = $2 WHERE id = $3 AND status = $4;

-- name: suspense_list
-- A school's suspense entries ($1 = 0: the platform's, no school), newest
-- first, with the student and amount of the order the notification named,
-- when that order is the school's (a clue for the office).
SELECT e.id, COALESCE(e.school_id, 0), e.channel, e.merchant_id, e.order_no, e.channel_txn_id, e.amount, e.reason, e.status,
    e.received_at, e.resolved_at, COALESCE(st.student_no, ''), COALESCE(st.name, ''), COALESCE(o.amount, 0)
FROM suspense e LEFT JOIN orders o ON o.order_no = e.order_no AND o.school_id = e.school_id LEFT JOIN students st ON st.id = o.student_id
WHERE (e.school_id = $1 OR ($1 = 0 AND e.school_id IS NULL)) ORDER BY e.received_at DESC, e.id DESC LIMIT $2;

-- name: suspense_get
SELECT id, COALESCE(school_id, 0), channel, merchant_id, order_no, channel_txn_id, amount, reason, status, received_at, resolved_at
FROM suspense WHERE id = $1;

-- name: money_request_insert
INSERT INTO money_requests (school_id, kind, status, student_id, line_id, order_id, suspense_id, source, amount, deferred_until,
    reason, detail, file_hash, requested_by, requester, requested_at)
VALUES (NULLIF($1::BIGINT, 0), $2, $3, NULLIF($4::BIGINT, 0), NULLIF($5::BIGINT, 0), NULLIF($6::BIGINT, 0), NULLIF($7::BIGINT, 0),
    $8, $9, $10, $11, $12, $13, $14, $15, $16)
RETURNING id;

-- name: money_request_lock
SELECT m.id, COALESCE(m.school_id, 0), m.kind, m.status, COALESCE(m.student_id, 0), COALESCE(s.student_no, ''), COALESCE(s.name, ''),
    COALESCE(m.line_id, 0), COALESCE(i.name, ''), COALESCE(m.order_id, 0), COALESCE(o.order_no, ''), COALESCE(m.suspense_id, 0),
    m.source, m.amount, m.deferred_until, m.reason, m.detail, m.file_hash, m.refund_no, m.requested_by, m.requester, m.requested_at,
    m.decided_by, m.decider, m.decided_at, m.note, '', 0
FROM money_requests m LEFT JOIN students s ON s.id = m.student_id LEFT JOIN bill_lines l ON l.id = m.line_id
LEFT JOIN items i ON i.id = l.item_id LEFT JOIN orders o ON o.id = m.order_id
WHERE m.id = $1 FOR UPDATE OF m;

-- name: money_request_get
SELECT m.id, COALESCE(m.school_id, 0), m.kind, m.status, COALESCE(m.student_id, 0), COALESCE(s.student_no, ''), COALESCE(s.name, ''),
    COALESCE(m.line_id, 0), COALESCE(i.name, ''), COALESCE(m.order_id, 0), COALESCE(o.order_no, ''), COALESCE(m.suspense_id, 0),
    m.source, m.amount, m.deferred_until, m.reason, m.detail, m.file_hash, m.refund_no, m.requested_by, m.requester, m.requested_at,
    m.decided_by, m.decider, m.decided_at, m.note, COALESCE(r.status, ''), COALESCE(r.updated_at, 0)
FROM money_requests m LEFT JOIN students s ON s.id = m.student_id LEFT JOIN bill_lines l ON l.id = m.line_id
LEFT JOIN items i ON i.id = l.item_id LEFT JOIN orders o ON o.id = m.order_id LEFT JOIN refunds r ON r.refund_no = m.refund_no
WHERE m.id = $1;

-- name: money_requests_of_school
-- A school's requests ($1 = 0: the platform's, with those that place the
-- platform's suspense at a school), newest first; $2 filters
-- by status unless ''.
SELECT m.id, COALESCE(m.school_id, 0), m.kind, m.status, COALESCE(m.student_id, 0), COALESCE(s.student_no, ''), COALESCE(s.name, ''),
    COALESCE(m.line_id, 0), COALESCE(i.name, ''), COALESCE(m.order_id, 0), COALESCE(o.order_no, ''), COALESCE(m.suspense_id, 0),
    m.source, m.amount, m.deferred_until, m.reason, m.detail, m.file_hash, m.refund_no, m.requested_by, m.requester, m.requested_at,
    m.decided_by, m.decider, m.decided_at, m.note, COALESCE(r.status, ''), COALESCE(r.updated_at, 0)
FROM money_requests m LEFT JOIN students s ON s.id = m.student_id LEFT JOIN bill_lines l ON l.id = m.line_id
LEFT JOIN items i ON i.id = l.item_id LEFT JOIN orders o ON o.id = m.order_id LEFT JOIN refunds r ON r.refund_no = m.refund_no
WHERE (m.school_id = $1 OR ($1 = 0 AND (m.school_id IS NULL OR m.suspense_id IN (SELECT id FROM suspense WHERE school_id IS NULL))))
    AND ($2 = '' OR m.status = $2)
ORDER BY m.id DESC LIMIT $3;

-- name: money_requests_of_student
SELECT m.id, COALESCE(m.school_id, 0), m.kind, m.status, COALESCE(m.student_id, 0), COALESCE(s.student_no, ''), COALESCE(s.name, ''),
    COALESCE(m.line_id, 0), COALESCE(i.name, ''), COALESCE(m.order_id, 0), COALESCE(o.order_no, ''), COALESCE(m.suspense_id, 0),
    m.source, m.amount, m.deferred_until, m.reason, m.detail, m.file_hash, m.refund_no, m.requested_by, m.requester, m.requested_at,
    m.decided_by, m.decider, m.decided_at, m.note, COALESCE(r.status, ''), COALESCE(r.updated_at, 0)
FROM money_requests m LEFT JOIN students s ON s.id = m.student_id LEFT JOIN bill_lines l ON l.id = m.line_id
LEFT JOIN items i ON i.id = l.item_id LEFT JOIN orders o ON o.id = m.order_id LEFT JOIN refunds r ON r.refund_no = m.refund_no
WHERE m.student_id = $1 OR m.id IN (SELECT a.request_id FROM adjustments a JOIN bill_lines bl ON bl.id = a.line_id WHERE bl.student_id = $1)
ORDER BY m.id DESC;

-- name: money_request_decide
-- Guarded: a request is decided once.
UPDATE money_requests SET status = $1, decided_by = $2, decider = $3, decided_at = $4, note = $5, refund_no = $6
WHERE id = $7 AND status = $8;

-- name: money_request_by_hash
-- A loan file applied or waiting already ($1 school, $2 SHA-256).
SELECT COUNT(*) FROM money_requests WHERE school_id = $1 AND file_hash = $2 AND status <> 'rejected';

-- name: adjustment_insert
INSERT INTO adjustments (request_id, line_id, kind, amount, deferred_until, contract_no, file_line)
VALUES ($1, $2, $3, $4, $5, $6, $7);

-- name: adjustments_of_request
SELECT a.id, a.line_id, a.kind, a.amount, a.deferred_until, a.contract_no, a.file_line, a.covered, a.displaced,
    COALESCE(a.payment_id, 0), s.student_no, s.name, p.name, i.name
FROM adjustments a JOIN bill_lines l ON l.id = a.line_id JOIN students s ON s.id = l.student_id
JOIN items i ON i.id = l.item_id JOIN projects p ON p.id = i.project_id
WHERE a.request_id = $1 ORDER BY a.file_line, a.id;

-- name: adjustment_outcome
UPDATE adjustments SET covered = $1, displaced = $2, payment_id = NULLIF($3::BIGINT, 0) WHERE id = $4;
