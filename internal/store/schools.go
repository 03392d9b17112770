package store

import (
	"context"
	"encoding/json"
	"slices"
	"sync"

	"campuspay/internal/billing"
)

// CreateSchool adds a school (and its region when new). A school with the
// same code is refused with billing.CodeSchoolExists.
func (s *Store) CreateSchool(ctx context.Context, sc billing.School) (billing.School, error) {
	if err := sc.Validate(); err != nil {
		return sc, err
	}
	pol, err := json.Marshal(sc.Policy)
	if err != nil {
		return sc, err
	}
	err = s.InTx(ctx, func(tx *Tx) error {
		tx.write("region_upsert", anyRows, sc.RegionCode, sc.RegionName)
		return tx.readRow(ctx, "school_insert", []any{sc.Code, sc.Name, sc.RegionCode, string(pol), ms(tx.now)}, &sc.ID)
	})
	if s.failedIn(err, "school_insert", failUnique) {
		return sc, billing.SchoolExists(sc.Code).Wrap(err)
	}
	return sc, err
}

// UpdatePolicy replaces a school's payment policy.
func (s *Store) UpdatePolicy(ctx context.Context, schoolID int64, p billing.Policy) error {
	pol, err := json.Marshal(p)
	if err != nil {
		return err
	}
	_, err = s.exec(ctx, "school_policy_update", string(pol), schoolID)
	return err
}

// scanSchool reads s.id, s.code, s.name, s.region_code, r.name, s.policy.
func scanSchoolInto(sc *billing.School, pol string) error {
	p, err := parsePolicy(pol)
	sc.Policy = p
	return err
}

// policies caches parsed policies by their stored text: every
// authenticated request reads its school's, and the text changes only
// when the school's settings do. Bounded: cleared when it grows past
// policyCacheMax texts.
var policies struct {
	sync.Mutex
	m map[string]billing.Policy
}

const policyCacheMax = 4096

// parsePolicy decodes a stored policy over the defaults. The slices of a
// cached policy are cloned for each caller, so none can change another's.
func parsePolicy(text string) (billing.Policy, error) {
	policies.Lock()
	p, ok := policies.m[text]
	policies.Unlock()
	if !ok {
		p = billing.DefaultPolicy()
		if err := json.Unmarshal([]byte(text), &p); err != nil {
			return p, err
		}
		policies.Lock()
		if policies.m == nil || len(policies.m) >= policyCacheMax {
			policies.m = map[string]billing.Policy{}
		}
		policies.m[text] = p
		policies.Unlock()
	}
	p.RecommendedBanks = slices.Clone(p.RecommendedBanks)
	p.Channels = slices.Clone(p.Channels)
	return p, nil
}

func scanSchool(r interface{ Scan(...any) error }) (billing.School, error) {
	var sc billing.School
	var pol string
	if err := r.Scan(&sc.ID, &sc.Code, &sc.Name, &sc.RegionCode, &sc.RegionName, &pol); err != nil {
		return sc, err
	}
	return sc, scanSchoolInto(&sc, pol)
}

// SchoolByCode finds a school.
func (s *Store) SchoolByCode(ctx context.Context, code string) (billing.School, error) {
	return s.oneSchool(ctx, "school_by_code", code)
}

// SchoolByID finds a school.
func (s *Store) SchoolByID(ctx context.Context, id int64) (billing.School, error) {
	return s.oneSchool(ctx, "school_by_id", id)
}

func (s *Store) oneSchool(ctx context.Context, name string, key any) (billing.School, error) {
	r, err := s.read(ctx, name, key)
	if err != nil {
		return billing.School{}, err
	}
	var sc billing.School
	var pol string
	if err := scanOne(r, &sc.ID, &sc.Code, &sc.Name, &sc.RegionCode, &sc.RegionName, &pol); err != nil {
		return sc, s.translate(notFound(err))
	}
	return sc, scanSchoolInto(&sc, pol)
}

// Schools lists every school, by region then code.
func (s *Store) Schools(ctx context.Context) ([]billing.School, error) {
	r, err := s.read(ctx, "schools_all")
	if err != nil {
		return nil, err
	}
	var out []billing.School
	err = each(r, func(r rows) error {
		sc, err := scanSchool(r)
		out = append(out, sc)
		return err
	})
	return out, s.translate(err)
}
