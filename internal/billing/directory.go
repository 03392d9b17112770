package billing

import (
	"context"

	"campuspay/internal/apperr"
)

// CodeSchoolNotFound is an unknown school code.
const CodeSchoolNotFound = "school_not_found"

// DirectoryStore is where schools are kept.
type DirectoryStore interface {
	Schools(ctx context.Context) ([]School, error)
	SchoolByCode(ctx context.Context, code string) (School, error)
}

// Directory is the platform's schools by region: what a student chooses
// from (地区, then 学校) and what every front door looks a school up in.
type Directory struct{ st DirectoryStore }

// NewDirectory wires a Directory.
func NewDirectory(st DirectoryStore) *Directory { return &Directory{st: st} }

// Region is a region with its schools.
type Region struct {
	Code, Name string
	Schools    []School
}

// Regions lists the schools grouped by region, in code order.
func (d *Directory) Regions(ctx context.Context) ([]Region, error) {
	schools, err := d.st.Schools(ctx)
	if err != nil {
		return nil, err
	}
	var out []Region
	for _, s := range schools {
		if len(out) == 0 || out[len(out)-1].Code != s.RegionCode {
			out = append(out, Region{Code: s.RegionCode, Name: s.RegionName})
		}
		out[len(out)-1].Schools = append(out[len(out)-1].Schools, s)
	}
	return out, nil
}

// School finds a school by its code; an unknown code is school_not_found,
// a database that cannot be asked an internal error.
func (d *Directory) School(ctx context.Context, code string) (School, error) {
	s, err := d.st.SchoolByCode(ctx, code)
	if e, ok := apperr.As(err); ok && e.Kind == apperr.NotFound {
		return s, apperr.New(apperr.NotFound, CodeSchoolNotFound, "学校不存在，请从学校官网“网上缴费平台”进入")
	}
	return s, err
}

// Schools lists every school.
func (d *Directory) Schools(ctx context.Context) ([]School, error) { return d.st.Schools(ctx) }
