-- Regions and schools.

-- name: region_upsert
INSERT INTO regions (code, name) VALUES (?1, ?2) ON CONFLICT (code) DO NOTHING;

-- name: school_insert
INSERT INTO schools (code, name, region_code, policy, created_at) VALUES (?1, ?2, ?3, ?4, ?5) RETURNING id;

-- name: school_policy_update
UPDATE schools SET policy = ?1 WHERE id = ?2;

-- name: school_by_code
SELECT s.id, s.code, s.name, s.region_code, r.name, s.policy FROM schools s
JOIN regions r ON r.code = s.region_code WHERE s.code = ?1;

-- name: school_by_id
SELECT s.id, s.code, s.name, s.region_code, r.name, s.policy FROM schools s
JOIN regions r ON r.code = s.region_code WHERE s.id = ?1;

-- name: schools_all
SELECT s.id, s.code, s.name, s.region_code, r.name, s.policy FROM schools s
JOIN regions r ON r.code = s.region_code ORDER BY s.region_code, s.code;
