-- +goose Up
-- When the last login attempt began: attempts counted before their password
-- check that never finished (a client that hung up) expire into a lock.
ALTER TABLE students ADD COLUMN login_attempt_at BIGINT NOT NULL DEFAULT 0;

-- +goose Down
ALTER TABLE students DROP COLUMN login_attempt_at;
