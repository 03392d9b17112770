-- +goose Up
-- The phone app (SPEC §1, §2 App, R4, R6, R11). Times are Unix ms.
-- An account is a phone number; its password is set after the first SMS
-- login ('' until then); school_id is the school it chose (0: none yet).
CREATE TABLE accounts (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    phone         TEXT NOT NULL UNIQUE,
    password_hash TEXT NOT NULL DEFAULT '',
    school_id     BIGINT NOT NULL DEFAULT 0,
    created_at    BIGINT NOT NULL,
    updated_at    BIGINT NOT NULL
);
-- Account tokens, stored as SHA-256 of the secret.
CREATE TABLE account_sessions (
    token_hash TEXT PRIMARY KEY,
    account_id BIGINT NOT NULL REFERENCES accounts(id),
    csrf       TEXT NOT NULL,
    method     TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE INDEX account_sessions_account ON account_sessions (account_id);
-- R4: one row per phone that was ever sent a code, locked while the
-- phone's sends are counted, so that parallel sends on any server queue.
CREATE TABLE sms_phones (
    phone TEXT PRIMARY KEY
);
-- R4: the sends of the last window per phone (older ones are pruned).
CREATE TABLE sms_sends (
    phone   TEXT NOT NULL,
    purpose TEXT NOT NULL,
    sent_at BIGINT NOT NULL
);
CREATE INDEX sms_sends_phone ON sms_sends (phone, sent_at);
-- The live code per phone and purpose: an HMAC of the code, never the code.
CREATE TABLE sms_codes (
    phone      TEXT NOT NULL,
    purpose    TEXT NOT NULL,
    code_hash  TEXT NOT NULL,
    account_id BIGINT NOT NULL DEFAULT 0,
    issued_at  BIGINT NOT NULL,
    failed     INTEGER NOT NULL DEFAULT 0 CHECK (failed >= 0),
    PRIMARY KEY (phone, purpose)
);
-- R6: the students an account acts for.
CREATE TABLE bindings (
    account_id BIGINT NOT NULL REFERENCES accounts(id),
    student_id BIGINT NOT NULL REFERENCES students(id),
    created_at BIGINT NOT NULL,
    PRIMARY KEY (account_id, student_id)
);
CREATE INDEX bindings_student ON bindings (student_id);

-- +goose Down
DROP TABLE bindings;
DROP TABLE sms_codes;
DROP TABLE sms_sends;
DROP TABLE sms_phones;
DROP TABLE account_sessions;
DROP TABLE accounts;
