-- The audit log: one hash chain per school and one for the platform, and
-- the seals of the journal in the platform chain.

-- name: audit_head_init
INSERT INTO audit_heads (chain, seq, hash) VALUES (?1, 0, '') ON CONFLICT (chain) DO NOTHING;

-- name: audit_head_lock
-- The chain's last row; the transaction holds the write lock.
SELECT seq, hash FROM audit_heads WHERE chain = ?1;

-- name: audit_insert
INSERT INTO audit_log (chain, seq, at, actor_id, actor, role, action, target, school_id, client, before, after, prev_hash, hash)
VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14);

-- name: audit_head_set
UPDATE audit_heads SET seq = ?1, hash = ?2 WHERE chain = ?3 AND seq = ?4;

-- name: audit_heads_all
SELECT chain, seq, hash FROM audit_heads ORDER BY chain;

-- name: audit_chain_walk
SELECT id, chain, seq, at, actor_id, actor, role, action, target, school_id, client, before, after, prev_hash, hash
FROM audit_log WHERE chain = ?1 ORDER BY seq;

-- name: audit_query
-- A page of one chain, newest first: ?2 actor, ?3 action prefix, [?4, ?5)
-- time, below seq ?6.
SELECT id, chain, seq, at, actor_id, actor, role, action, target, school_id, client, before, after, prev_hash, hash
FROM audit_log WHERE chain = ?1 AND (?2 = '' OR actor = ?2) AND (?3 = '' OR substr(action, 1, length(?3)) = ?3)
    AND at >= ?4 AND at < ?5 AND seq < ?6
ORDER BY seq DESC LIMIT ?7;

-- name: audit_seal_cursor
SELECT last_entry FROM audit_seal_cursor WHERE id = 1;

-- name: audit_seal_advance
UPDATE audit_seal_cursor SET last_entry = ?1 WHERE id = 1 AND last_entry = ?2;

-- name: audit_seal_wait
-- PostgreSQL waits a little for journal writers; SQLite's write lock is enough.
SELECT 1;

-- name: audit_seal_lock
-- Every entry up to the largest id is committed once no writer holds the
-- table (PostgreSQL); SQLite's write transaction excludes every writer.
SELECT 1;

-- name: audit_seal_horizon
SELECT COALESCE(MAX(id), 0) FROM journal_entries;

-- name: audit_unsealed
SELECT COUNT(*) FROM journal_entries WHERE id > (SELECT last_entry FROM audit_seal_cursor WHERE id = 1);

-- name: journal_walk
SELECT e.id, COALESCE(e.school_id, 0), e.kind, e.ref, e.memo, e.created_at, p.account, p.amount
FROM journal_entries e JOIN journal_postings p ON p.entry_id = e.id
WHERE e.id > ?1 AND e.id <= ?2 ORDER BY e.id, p.id;

-- name: audit_chains_logged
-- Chains that have rows, whether or not their head is still there.
SELECT DISTINCT chain FROM audit_log;
