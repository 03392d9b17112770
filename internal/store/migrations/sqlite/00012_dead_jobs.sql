-- +goose Up
-- The jobs given up, for the console's list of them.
CREATE INDEX jobs_dead ON jobs (dead_at) WHERE dead_at > 0;

-- +goose Down
DROP INDEX jobs_dead;
