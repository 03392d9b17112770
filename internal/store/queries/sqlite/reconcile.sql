-- Daily reconciliation against the channels' statements (migration 00010).

-- name: reconcile_payments
-- A school's payments of one channel on a day [?3, ?4): by the channel's
-- success time when the order was paid by this payment, else by when the
-- platform learned of it (?5 is a day after ?4: a payment learned after
-- midnight may belong to the day before).
SELECT order_no, channel_txn_id, amount, disposition, created_at, at FROM (
    SELECT o.order_no, p.channel_txn_id, p.amount, p.disposition, o.created_at,
        CASE WHEN o.paid_at > 0 AND o.channel_txn_id = p.channel_txn_id THEN o.paid_at ELSE p.received_at END AS at
    FROM payments_received p JOIN orders o ON o.id = p.order_id
    WHERE p.received_at >= ?3 AND p.received_at < ?5 AND p.channel = ?2 AND o.school_id = ?1
) x WHERE at >= ?3 AND at < ?4;

-- name: reconcile_suspense
-- Money in suspense of a channel on a day: the school's, and the
-- platform's (no school) taken by the school's merchant ?5.
SELECT COALESCE(school_id, 0), merchant_id, order_no, channel_txn_id, amount, reason, received_at FROM suspense
WHERE received_at >= ?3 AND received_at < ?4 AND channel = ?2 AND (school_id = ?1 OR (school_id IS NULL AND merchant_id = ?5));

-- name: reconcile_refunds
-- A school's refunds of one channel that reached state ?3 on a day [?4, ?5).
SELECT o.order_no, r.refund_no, r.channel_refund_id, r.amount, r.updated_at, p.channel_txn_id, p.amount, o.created_at, r.status
FROM refunds r JOIN orders o ON o.id = r.order_id JOIN payments_received p ON p.id = r.payment_id
WHERE r.status = ?3 AND r.updated_at >= ?4 AND r.updated_at < ?5 AND o.school_id = ?1 AND o.channel = ?2;

-- name: reconcile_find_payments
-- Payments of channel ?1 by transaction id (?2: JSON array), on any day.
SELECT o.school_id, o.order_no, p.channel_txn_id, p.amount, p.disposition, o.created_at, p.received_at
FROM payments_received p JOIN orders o ON o.id = p.order_id
WHERE p.channel = ?1 AND p.channel_txn_id IN (SELECT value FROM json_each(?2));

-- name: reconcile_find_suspense
SELECT COALESCE(school_id, 0), merchant_id, order_no, channel_txn_id, amount, reason, received_at FROM suspense
WHERE channel = ?1 AND channel_txn_id IN (SELECT value FROM json_each(?2));

-- name: reconcile_find_refunds
-- Refunds by refund number (?1: JSON array), in any state, on any day.
SELECT o.school_id, o.order_no, r.refund_no, r.channel_refund_id, r.amount, r.updated_at, p.channel_txn_id, p.amount, o.created_at, r.status
FROM refunds r JOIN orders o ON o.id = r.order_id JOIN payments_received p ON p.id = r.payment_id
WHERE r.refund_no IN (SELECT value FROM json_each(?1));

-- name: reconcile_find_orders
SELECT order_no, school_id, created_at FROM orders WHERE order_no IN (SELECT value FROM json_each(?1));

-- name: reconcile_upsert
-- A run: the reconciliation is created or brought up to date, one more run.
INSERT INTO reconciliations (school_id, channel, day, runs, status, statement_payments, statement_payment_sum, statement_refunds,
    statement_refund_sum, platform_payments, platform_payment_sum, platform_refunds, platform_refund_sum, matched, differences,
    unresolved, error, run_at, run_by)
VALUES (?1, ?2, ?3, 1, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18)
ON CONFLICT (school_id, channel, day) DO UPDATE SET runs = reconciliations.runs + 1, status = excluded.status,
    statement_payments = excluded.statement_payments, statement_payment_sum = excluded.statement_payment_sum,
    statement_refunds = excluded.statement_refunds, statement_refund_sum = excluded.statement_refund_sum,
    platform_payments = excluded.platform_payments, platform_payment_sum = excluded.platform_payment_sum,
    platform_refunds = excluded.platform_refunds, platform_refund_sum = excluded.platform_refund_sum,
    matched = excluded.matched, differences = excluded.differences, unresolved = excluded.unresolved, error = excluded.error,
    run_at = excluded.run_at, run_by = excluded.run_by
RETURNING id, runs;

-- name: reconcile_differences_insert
-- A run's differences (?1: JSON [{"r","k","t","o","ref","ca","pa","a","ok","n"}]), with ?2 the run, ?3 the time.
INSERT INTO reconciliation_differences (reconciliation_id, run, kind, txn_kind, order_no, ref, channel_amount, platform_amount,
    action, resolved, note, at)
SELECT j.value ->> '$.r', ?2, j.value ->> '$.k', j.value ->> '$.t', j.value ->> '$.o', j.value ->> '$.ref', j.value ->> '$.ca',
    j.value ->> '$.pa', j.value ->> '$.a', j.value ->> '$.ok', j.value ->> '$.n', ?3
FROM json_each(?1) j WHERE true;

-- name: reconcile_get
SELECT id, school_id, channel, day, status, runs, statement_payments, statement_payment_sum, statement_refunds, statement_refund_sum,
    platform_payments, platform_payment_sum, platform_refunds, platform_refund_sum, matched, differences, unresolved, error, run_at, run_by
FROM reconciliations WHERE school_id = ?1 AND channel = ?2 AND day = ?3;

-- name: reconcile_list
SELECT id, school_id, channel, day, status, runs, statement_payments, statement_payment_sum, statement_refunds, statement_refund_sum,
    platform_payments, platform_payment_sum, platform_refunds, platform_refund_sum, matched, differences, unresolved, error, run_at, run_by
FROM reconciliations WHERE school_id = ?1 ORDER BY day DESC, channel LIMIT ?2;

-- name: reconcile_run_differences
SELECT run, kind, txn_kind, order_no, ref, channel_amount, platform_amount, action, resolved, note, at
FROM reconciliation_differences WHERE reconciliation_id = ?1 AND run = ?2 ORDER BY id;

-- name: reconcile_all_differences
SELECT run, kind, txn_kind, order_no, ref, channel_amount, platform_amount, action, resolved, note, at
FROM reconciliation_differences WHERE reconciliation_id = ?1 ORDER BY run DESC, id;

-- name: reconcile_channel_only
-- The channel-only differences of a school's channel on some days (?3: JSON array of YYYY-MM-DD).
SELECT d.run, d.kind, d.txn_kind, d.order_no, d.ref, d.channel_amount, d.platform_amount, d.action, d.resolved, d.note, d.at
FROM reconciliation_differences d JOIN reconciliations r ON r.id = d.reconciliation_id
WHERE r.school_id = ?1 AND r.channel = ?2 AND r.day IN (SELECT value FROM json_each(?3)) AND d.kind = 'channel_only';

-- name: reconcile_job_schedule
-- A job queued once: a (kind, ref) queued before, done or not, is left alone.
INSERT INTO jobs (kind, ref, run_at, created_at) VALUES (?1, ?2, ?3, ?4) ON CONFLICT (kind, ref) DO NOTHING;
