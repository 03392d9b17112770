-- Durable background jobs.

-- name: job_enqueue
-- The same (kind, ref) is one job: rescheduled and revived, never doubled.
INSERT INTO jobs (kind, ref, run_at, created_at) VALUES (?1, ?2, ?3, ?4)
ON CONFLICT (kind, ref) DO UPDATE SET run_at = excluded.run_at, done_at = 0, dead_at = 0, attempts = 0, last_error = '';

-- name: jobs_enqueue
-- Several jobs in one statement (?1: JSON [{"kind","ref","at"}]).
INSERT INTO jobs (kind, ref, run_at, created_at)
SELECT j.value ->> '$.kind', j.value ->> '$.ref', j.value ->> '$.at', ?2 FROM json_each(?1) j WHERE true
ON CONFLICT (kind, ref) DO UPDATE SET run_at = excluded.run_at, done_at = 0, dead_at = 0, attempts = 0, last_error = '';

-- name: jobs_finish
UPDATE jobs SET done_at = ?1, locked_until = 0 WHERE ref = ?2 AND kind IN (?3, ?4) AND done_at = 0;

-- name: jobs_claim
-- One statement: the due jobs nobody holds, leased to this worker (the
-- write transaction excludes other claimants).
UPDATE jobs SET locked_by = ?1, locked_until = ?2, attempts = attempts + 1
WHERE id IN (SELECT id FROM jobs WHERE done_at = 0 AND dead_at = 0 AND run_at <= ?3 AND locked_until <= ?3
             ORDER BY run_at LIMIT ?4)
RETURNING id, kind, ref, attempts;

-- name: job_complete
UPDATE jobs SET done_at = ?1, locked_until = 0, last_error = '' WHERE id = ?2 AND locked_by = ?3 AND done_at = 0;

-- name: job_retry
UPDATE jobs SET run_at = ?1, locked_until = 0, last_error = ?2 WHERE id = ?3 AND done_at = 0 AND locked_by = ?4;

-- name: job_bury
UPDATE jobs SET dead_at = ?1, locked_until = 0, last_error = ?2 WHERE id = ?3 AND done_at = 0 AND locked_by = ?4;

-- name: jobs_counts
SELECT CASE WHEN dead_at > 0 THEN 'dead' ELSE 'pending' END, kind, COUNT(*) FROM jobs
WHERE done_at = 0 GROUP BY 1, 2;

-- name: jobs_dead
SELECT id, kind, ref, attempts, last_error, dead_at FROM jobs WHERE dead_at > 0 ORDER BY dead_at DESC, id DESC LIMIT ?1;

-- name: job_dead
SELECT id, kind, ref, attempts, last_error, dead_at FROM jobs WHERE id = ?1 AND dead_at > 0;

-- name: job_revive
-- A dead job runs again at once, its attempts counted afresh.
UPDATE jobs SET dead_at = 0, attempts = 0, run_at = ?1, locked_until = 0, locked_by = '' WHERE id = ?2 AND dead_at > 0 AND done_at = 0;
