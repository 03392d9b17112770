package store

import (
	"context"
	"encoding/json"
	"strings"

	"campuspay/internal/apperr"
	"campuspay/internal/billing"
)

// CreateSchool adds a school (and its region when new). A school with the
// same code is refused.
func (s *Store) CreateSchool(ctx context.Context, sc billing.School) (billing.School, error) {
	if sc.Code == "" || sc.Name == "" || sc.RegionCode == "" {
		return sc, apperr.New(apperr.Invalid, "invalid_school", "学校代码、名称和地区代码不能为空")
	}
	pol, err := json.Marshal(sc.Policy)
	if err != nil {
		return sc, err
	}
	err = s.InTx(ctx, func(tx *Tx) error {
		if _, err := tx.exec(ctx, `INSERT INTO regions (code, name) VALUES ($1, $2)
			ON CONFLICT (code) DO NOTHING`, sc.RegionCode, sc.RegionName); err != nil {
			return err
		}
		id, err := tx.insertID(ctx, `INSERT INTO schools (code, name, region_code, policy, created_at)
			VALUES ($1, $2, $3, $4, $5)`, sc.Code, sc.Name, sc.RegionCode, string(pol), ms(tx.now))
		if err != nil {
			if isUnique(err) {
				return apperr.New(apperr.Conflict, "school_exists", "学校代码 "+sc.Code+" 已存在")
			}
			return err
		}
		sc.ID = id
		return nil
	})
	return sc, err
}

// UpdatePolicy replaces a school's payment policy.
func (s *Store) UpdatePolicy(ctx context.Context, schoolID int64, p billing.Policy) error {
	pol, err := json.Marshal(p)
	if err != nil {
		return err
	}
	_, err = s.x().ExecContext(ctx, `UPDATE schools SET policy = $1 WHERE id = $2`, string(pol), schoolID)
	return err
}

const schoolCols = `s.id, s.code, s.name, s.region_code, r.name, s.policy`

func scanSchool(sc interface{ Scan(...any) error }) (billing.School, error) {
	var s billing.School
	var pol string
	if err := sc.Scan(&s.ID, &s.Code, &s.Name, &s.RegionCode, &s.RegionName, &pol); err != nil {
		return s, err
	}
	s.Policy = billing.DefaultPolicy()
	if err := json.Unmarshal([]byte(pol), &s.Policy); err != nil {
		return s, err
	}
	return s, nil
}

// SchoolByCode finds a school.
func (s *Store) SchoolByCode(ctx context.Context, code string) (billing.School, error) {
	sc, err := scanSchool(s.x().QueryRowContext(ctx, `SELECT `+schoolCols+` FROM schools s
		JOIN regions r ON r.code = s.region_code WHERE s.code = $1`, code))
	return sc, notFound(err, "学校 "+code)
}

// SchoolByID finds a school.
func (s *Store) SchoolByID(ctx context.Context, id int64) (billing.School, error) {
	sc, err := scanSchool(s.x().QueryRowContext(ctx, `SELECT `+schoolCols+` FROM schools s
		JOIN regions r ON r.code = s.region_code WHERE s.id = $1`, id))
	return sc, notFound(err, "学校")
}

// Schools lists every school, by region then code.
func (s *Store) Schools(ctx context.Context) ([]billing.School, error) {
	rows, err := s.x().QueryContext(ctx, `SELECT `+schoolCols+` FROM schools s
		JOIN regions r ON r.code = s.region_code ORDER BY s.region_code, s.code`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []billing.School
	for rows.Next() {
		sc, err := scanSchool(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, sc)
	}
	return out, rows.Err()
}

func isUnique(err error) bool {
	m := err.Error()
	return strings.Contains(m, "UNIQUE constraint") || strings.Contains(m, "SQLSTATE 23505") ||
		strings.Contains(m, "PRIMARY KEY constraint")
}
