-- Receipts: the platform's own keys (the receipt key of verification codes).

-- name: platform_key_insert
-- The key, made by whichever server starts first; the others keep it.
INSERT INTO platform_keys (name, value, created_at) VALUES (?1, ?2, ?3) ON CONFLICT (name) DO NOTHING;

-- name: platform_key_get
SELECT value FROM platform_keys WHERE name = ?1;
