-- Attempts to pay an order (payment.Attempt), one row per (order, key),
-- listed in the order the platform learned of them (a channel's own
-- times may be coarser than the gap between two tries).

-- name: attempt_insert
INSERT INTO order_attempts (order_id, attempt_key, at, success, code, channel_code, message, card_bank, masked_card, card_limit)
VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)
ON CONFLICT (order_id, attempt_key) DO NOTHING;

-- name: attempts_of_student
SELECT a.order_id, o.order_no, a.attempt_key, a.at, a.success, a.code, a.channel_code, a.message, a.card_bank, a.masked_card, a.card_limit
FROM order_attempts a JOIN orders o ON o.id = a.order_id
WHERE o.student_id = ?1 ORDER BY a.id DESC;
