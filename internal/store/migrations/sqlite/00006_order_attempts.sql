-- +goose Up
-- Each try to pay an order at its channel, as the student's records show
-- it: a refusal (and its card) no longer disappears when the next try or
-- the order's end replaces the order's failure. One row per (order, key):
-- the same answer told by the front return, the notification and a query
-- is one attempt.
CREATE TABLE order_attempts (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    order_id     BIGINT NOT NULL REFERENCES orders(id),
    attempt_key  TEXT NOT NULL,
    at           BIGINT NOT NULL,
    success      BOOLEAN NOT NULL,
    code         TEXT NOT NULL DEFAULT '',
    channel_code TEXT NOT NULL DEFAULT '',
    message      TEXT NOT NULL DEFAULT '',
    card_bank    TEXT NOT NULL DEFAULT '',
    masked_card  TEXT NOT NULL DEFAULT '',
    card_limit   BIGINT NOT NULL DEFAULT 0,
    UNIQUE (order_id, attempt_key)
);

-- +goose Down
DROP TABLE order_attempts;
