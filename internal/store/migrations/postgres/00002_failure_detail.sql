-- +goose Up
-- What the channel itself said about a failure, beside the stable code.
ALTER TABLE orders ADD COLUMN failure_channel_code TEXT NOT NULL DEFAULT '';
ALTER TABLE orders ADD COLUMN failure_limit BIGINT NOT NULL DEFAULT 0;

-- +goose Down
ALTER TABLE orders DROP COLUMN failure_limit;
ALTER TABLE orders DROP COLUMN failure_channel_code;
