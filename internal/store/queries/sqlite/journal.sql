-- The double-entry journal (append-only, enforced by triggers).

-- name: journal_post
-- One entry and all its postings (?6: a JSON array of {"account","amount"}),
-- in two statements: SQLite has no writable CTE. The entry's id is the
-- largest, since this transaction holds the only write lock.
INSERT INTO journal_entries (school_id, kind, ref, memo, created_at) VALUES (NULLIF(?1, 0), ?2, ?3, ?4, ?5);
-- and:
INSERT INTO journal_postings (entry_id, account, amount)
SELECT (SELECT MAX(id) FROM journal_entries), j.value ->> '$.account', j.value ->> '$.amount' FROM json_each(?6) j;

-- name: journal_counts
SELECT (SELECT COUNT(*) FROM journal_entries), (SELECT COUNT(*) FROM journal_postings);

-- name: journal_unbalanced
SELECT e.id FROM journal_entries e LEFT JOIN journal_postings p ON p.entry_id = e.id
GROUP BY e.id HAVING COALESCE(SUM(p.amount), 0) <> 0 OR COUNT(p.id) < 2;

-- name: journal_receivable_mismatch
-- Each student's receivable account against the sum of unpaid lines.
WITH j AS (SELECT account, SUM(amount) AS bal FROM journal_postings WHERE account LIKE 'receivable:student:%' GROUP BY account),
     b AS (SELECT student_id, SUM(amount - paid) AS due FROM bill_lines GROUP BY student_id)
SELECT b.student_id, COALESCE(j.bal, 0), b.due FROM b LEFT JOIN j ON j.account = 'receivable:student:' || CAST(b.student_id AS TEXT)
WHERE COALESCE(j.bal, 0) <> b.due
UNION ALL
SELECT CAST(SUBSTR(j.account, 20) AS BIGINT), j.bal, 0 FROM j
WHERE j.bal <> 0 AND NOT EXISTS (SELECT 1 FROM b WHERE j.account = 'receivable:student:' || CAST(b.student_id AS TEXT));

-- name: journal_totals
SELECT account, SUM(amount) FROM journal_postings WHERE account NOT LIKE 'receivable:student:%' GROUP BY account ORDER BY account;

-- name: journal_balance
SELECT COALESCE(SUM(amount), 0) FROM journal_postings WHERE account = ?1;
