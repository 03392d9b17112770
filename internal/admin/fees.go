package admin

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"campuspay/internal/apperr"
	"campuspay/internal/billing"
	"campuspay/internal/importer"
	"campuspay/internal/money"
)

// ---- payment policy ----

// Policy reads a school's payment policy.
func (s *Service) Policy(ctx context.Context, p Principal, schoolID int64) (billing.Policy, error) {
	sc, err := s.school(ctx, p, PermViewFees, schoolID)
	return sc.Policy, err
}

// ValidatePolicy checks a policy a school sets: the lock between 1 and
// 120 minutes (R9), a help line (R12), at most 10 recommended banks,
// known channels (channels, when given, lists the platform's), an
// initial-password rule R5 knows.
func ValidatePolicy(pol billing.Policy, channels []string) error {
	bad := func(msg string) error { return apperr.New(apperr.Invalid, CodeInvalidPolicy, msg) }
	switch {
	case pol.LockMinutes < 1 || pol.LockMinutes > 120:
		return bad("订单锁定时间须为 1–120 分钟")
	case pol.InitialPasswordRule != "" && pol.InitialPasswordRule != billing.InitialIDCardLast6:
		return bad("初始密码规则只能是固定密码或身份证号后 6 位")
	case len(pol.InitialPassword) < 6 || len(pol.InitialPassword) > 32 || !printable(pol.InitialPassword):
		return bad("初始密码须为 6–32 位可见字符")
	case strings.TrimSpace(pol.HelpLine) == "" || utf8.RuneCountInString(pol.HelpLine) > 32 || !printable(pol.HelpLine):
		return bad("请填写客服电话（最多 32 个字）")
	case utf8.RuneCountInString(pol.HelpHours) > 64 || !printable(pol.HelpHours):
		return bad("服务时间最多 64 个字")
	case utf8.RuneCountInString(pol.PlatformName) > 32 || !printable(pol.PlatformName):
		return bad("平台名称最多 32 个字")
	case len(pol.RecommendedBanks) > 10:
		return bad("推荐银行最多 10 家")
	}
	for _, b := range pol.RecommendedBanks {
		if b == "" || utf8.RuneCountInString(b) > 20 || !printable(b) {
			return bad("推荐银行名称须为 1–20 个字")
		}
	}
	for _, c := range pol.Channels {
		if len(channels) > 0 && !contains(channels, c) {
			return bad("未知的支付渠道：" + c)
		}
	}
	return nil
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// printable refuses control and invisible format characters.
func printable(s string) bool {
	for _, r := range s {
		if unicode.IsControl(r) || unicode.Is(unicode.Cf, r) {
			return false
		}
	}
	return utf8.ValidString(s)
}

// UpdatePolicy replaces a school's payment policy, audited with before
// and after.
func (s *Service) UpdatePolicy(ctx context.Context, p Principal, schoolID int64, pol billing.Policy, channels []string) error {
	sc, err := s.school(ctx, p, PermEditPolicy, schoolID)
	if err != nil {
		return err
	}
	if err := ValidatePolicy(pol, channels); err != nil {
		return err
	}
	return s.st.AdminUpdate(ctx, func(tx Tx) error {
		tx.SetPolicy(schoolID, pol)
		_, err := tx.Audit(ctx, record(p, ActPolicy, schoolTarget(schoolID), schoolID, sc.Policy, pol))
		return err
	})
}

// ---- projects and items ----

// FeeSetup is a school's fee projects with their items, its fee
// standards and how many students have each dormitory type.
type FeeSetup struct {
	Projects  []Project
	Standards []Standard
	Dorms     map[string]int
}

// FeeSetup reads a school's fee setup.
func (s *Service) FeeSetup(ctx context.Context, p Principal, schoolID int64) (FeeSetup, error) {
	if _, err := s.school(ctx, p, PermViewFees, schoolID); err != nil {
		return FeeSetup{}, err
	}
	var fs FeeSetup
	var err error
	if fs.Projects, err = s.st.FeeProjects(ctx, schoolID); err != nil {
		return fs, err
	}
	for i := range fs.Projects {
		sort.SliceStable(fs.Projects[i].Items, func(a, b int) bool { return fs.Projects[i].Items[a].Sort < fs.Projects[i].Items[b].Sort })
	}
	if fs.Standards, err = s.st.Standards(ctx, schoolID); err != nil {
		return fs, err
	}
	fs.Dorms, err = s.st.DormCounts(ctx, schoolID)
	return fs, err
}

// checkName validates a project's or item's name as imports do.
func checkName(label, name string) error {
	if name == "" || utf8.RuneCountInString(name) > 64 || !printable(name) || strings.TrimSpace(name) != name {
		return apperr.New(apperr.Invalid, CodeInvalidFee, label+"须为 1–64 个字，不能有首尾空格或不可见字符")
	}
	return nil
}

// SaveProject creates (ID 0) or renames and reorders a fee project.
// Renaming changes which project later bill files name.
func (s *Service) SaveProject(ctx context.Context, p Principal, schoolID int64, pr Project) (Project, error) {
	if _, err := s.school(ctx, p, PermEditFees, schoolID); err != nil {
		return pr, err
	}
	if err := checkName("收费项目名称", pr.Name); err != nil {
		return pr, err
	}
	pr.Items = nil
	err := s.st.AdminUpdate(ctx, func(tx Tx) error {
		created := pr.ID == 0
		if err := tx.SaveProject(ctx, schoolID, &pr); err != nil {
			return notFoundAs(err, "收费项目不存在")
		}
		after := map[string]any{"id": pr.ID, "name": pr.Name, "sort": pr.Sort, "created": created}
		_, err := tx.Audit(ctx, record(p, ActProject, "project:"+strconv.FormatInt(pr.ID, 10), schoolID, nil, after))
		return err
	})
	return pr, err
}

func notFoundAs(err error, msg string) error {
	if isNotFound(err) {
		return apperr.New(apperr.NotFound, apperr.CodeNotFound, msg)
	}
	return err
}

// SaveItem creates (ID 0) or changes an item: name, order and its
// mandatory flag, which fee standards' bills take; applyToLines also sets
// the flag of the item's lines still owed (R7 reads it at once).
func (s *Service) SaveItem(ctx context.Context, p Principal, schoolID int64, it Item, applyToLines bool) (Item, error) {
	if _, err := s.school(ctx, p, PermEditFees, schoolID); err != nil {
		return it, err
	}
	if err := checkName("子项目名称", it.Name); err != nil {
		return it, err
	}
	err := s.st.AdminUpdate(ctx, func(tx Tx) error {
		if err := tx.SaveItem(ctx, schoolID, &it, applyToLines); err != nil {
			return notFoundAs(err, "收费项目或子项目不存在")
		}
		after := map[string]any{"id": it.ID, "project_id": it.ProjectID, "name": it.Name, "sort": it.Sort, "mandatory": it.Mandatory,
			"apply_to_lines": applyToLines}
		_, err := tx.Audit(ctx, record(p, ActItem, "item:"+strconv.FormatInt(it.ID, 10), schoolID, nil, after))
		return err
	})
	return it, err
}

// ---- fee standards ----

// SaveStandard adds a fee standard, or changes the amount and flag of the
// one for the same grade, major, dormitory type and item.
func (s *Service) SaveStandard(ctx context.Context, p Principal, schoolID int64, st Standard) (Standard, error) {
	if _, err := s.school(ctx, p, PermEditFees, schoolID); err != nil {
		return st, err
	}
	st.SchoolID = schoolID
	for _, f := range []struct {
		label, v string
		need     bool
	}{{"年级", st.Grade, true}, {"专业", st.Major, false}, {"宿舍类型", st.DormType, false}, {"收费项目", st.Project, true}, {"子项目", st.Item, true}} {
		if (f.need && f.v == "") || utf8.RuneCountInString(f.v) > 64 || !printable(f.v) || strings.TrimSpace(f.v) != f.v {
			return st, apperr.New(apperr.Invalid, CodeInvalidFee, f.label+"须为 1–64 个字（专业、宿舍类型可空：适用于全部）")
		}
	}
	if st.Amount <= 0 || st.Amount > money.MaxFen {
		return st, apperr.New(apperr.Invalid, CodeInvalidFee, "金额须大于 0")
	}
	err := s.st.AdminUpdate(ctx, func(tx Tx) error {
		if err := tx.SaveStandard(ctx, &st); err != nil {
			return err
		}
		_, err := tx.Audit(ctx, record(p, ActStandard, "standard:"+strconv.FormatInt(st.ID, 10), schoolID, nil, standardState(st)))
		return err
	})
	return st, err
}

func standardState(st Standard) map[string]any {
	return map[string]any{"id": st.ID, "grade": st.Grade, "major": st.Major, "dorm_type": st.DormType, "project": st.Project,
		"item": st.Item, "amount": int64(st.Amount), "mandatory": st.Mandatory}
}

// DeleteStandard removes a fee standard (bills it made stay).
func (s *Service) DeleteStandard(ctx context.Context, p Principal, schoolID, id int64) error {
	if _, err := s.school(ctx, p, PermEditFees, schoolID); err != nil {
		return err
	}
	return s.st.AdminUpdate(ctx, func(tx Tx) error {
		st, err := tx.DeleteStandard(ctx, schoolID, id)
		if err != nil {
			return notFoundAs(err, "收费标准不存在")
		}
		_, err = tx.Audit(ctx, record(p, ActStandardDelete, "standard:"+strconv.FormatInt(id, 10), schoolID, standardState(st), nil))
		return err
	})
}

// AssignDorms sets students' dormitory types from a CSV file of
// 学号,宿舍类型 (ParseDorms). Every number must be on the roll, or nothing
// is set and the unknown ones are named.
func (s *Service) AssignDorms(ctx context.Context, p Principal, schoolID int64, csvFile []byte) (int, []importer.LineError, error) {
	if _, err := s.school(ctx, p, PermEditFees, schoolID); err != nil {
		return 0, nil, err
	}
	dorms, lines, probs := ParseDorms(csvFile)
	if len(probs) > 0 {
		return 0, probs, nil
	}
	err := s.st.AdminUpdate(ctx, func(tx Tx) error {
		unknown, err := tx.SetDorms(ctx, schoolID, dorms)
		if err != nil {
			return err
		}
		if len(unknown) > 0 {
			sort.Slice(unknown, func(i, j int) bool { return lines[unknown[i]] < lines[unknown[j]] })
			for _, no := range unknown {
				probs = append(probs, importer.LineError{Line: lines[no], Column: "学号", Reason: fmt.Sprintf("学号 %s 不在本校学生名单中", no)})
			}
			return errProblems
		}
		counts := map[string]int{}
		for _, d := range dorms {
			counts[d]++
		}
		_, err = tx.Audit(ctx, record(p, ActDorms, schoolTarget(schoolID), schoolID, nil, map[string]any{"students": len(dorms), "by_type": counts}))
		return err
	})
	if errors.Is(err, errProblems) {
		return 0, probs, nil
	}
	return len(dorms), nil, err
}

// errProblems undoes a transaction whose problems were reported.
var errProblems = errors.New("admin: problems reported")

// errDryRun undoes a preview's transaction after it found what it would do.
var errDryRun = errors.New("admin: preview only")

// GenerateResult is what generating a cohort's bills did or would do.
type GenerateResult struct {
	Grade    string
	Students int // students of the grade
	Rows     int // bill lines the standards give them
	Stats    billing.ImportStats
	Problems []importer.LineError
	Applied  bool
}

// Bills computes the bill rows fee standards give a grade's students: for
// each student and item, the most specific standard that fits (major and
// dormitory type both set beats major only, which beats dormitory type
// only, which beats neither). Rows are numbered from 2, as file lines.
func Bills(grade string, students []CohortStudent, standards []Standard) []billing.BillInput {
	type key struct{ project, item string }
	var out []billing.BillInput
	for _, st := range students {
		best := map[key]Standard{}
		rank := map[key]int{}
		for _, fs := range standards {
			if fs.Grade != grade || (fs.Major != "" && fs.Major != st.Major) || (fs.DormType != "" && fs.DormType != st.DormType) {
				continue
			}
			r := 0
			if fs.Major != "" {
				r += 2
			}
			if fs.DormType != "" {
				r++
			}
			k := key{fs.Project, fs.Item}
			if cur, ok := rank[k]; !ok || r > cur {
				best[k], rank[k] = fs, r
			}
		}
		keys := make([]key, 0, len(best))
		for k := range best {
			keys = append(keys, k)
		}
		sort.Slice(keys, func(i, j int) bool {
			if keys[i].project != keys[j].project {
				return keys[i].project < keys[j].project
			}
			return keys[i].item < keys[j].item
		})
		for _, k := range keys {
			fs := best[k]
			out = append(out, billing.BillInput{Line: len(out) + 2, StudentNo: st.StudentNo, Project: fs.Project, Item: fs.Item,
				Amount: fs.Amount, Mandatory: fs.Mandatory})
		}
	}
	return out
}

// GenerateBills makes a grade's bills from the fee standards, through the
// same all-or-nothing import and journal as a bill file: apply false only
// previews (every refused row named, nothing kept); apply true applies
// and audits. Re-generating changes only what changed.
func (s *Service) GenerateBills(ctx context.Context, p Principal, schoolID int64, grade string, apply bool) (GenerateResult, error) {
	// A preview takes the same locks as the import: only those who may
	// generate may preview.
	if _, err := s.school(ctx, p, PermGenerateBills, schoolID); err != nil {
		return GenerateResult{}, err
	}
	res := GenerateResult{Grade: grade}
	students, err := s.st.CohortStudents(ctx, schoolID, grade)
	if err != nil {
		return res, err
	}
	standards, err := s.st.Standards(ctx, schoolID)
	if err != nil {
		return res, err
	}
	rows := Bills(grade, students, standards)
	res.Students, res.Rows = len(students), len(rows)
	if len(rows) == 0 {
		return res, apperr.New(apperr.Invalid, CodeNothingToDo, "该年级没有学生，或没有适用的收费标准")
	}
	probs := &importer.Errors{}
	ref := fmt.Sprintf("standards:%s:%d", grade, s.cfg.Now().UnixMilli())
	res.Stats, err = s.st.ImportBillsWith(ctx, schoolID, ref, func(yield func(billing.BillInput) error) error {
		for _, r := range rows {
			if err := yield(r); err != nil {
				return err
			}
		}
		return nil
	}, probs.Add, func(tx Tx, st billing.ImportStats) error {
		if !apply {
			return errDryRun
		}
		_, err := tx.Audit(ctx, record(p, ActGenerate, "grade:"+grade, schoolID, nil,
			map[string]any{"grade": grade, "ref": ref, "rows": st.Rows, "created": st.Created, "updated": st.Updated, "unchanged": st.Unchanged}))
		return err
	})
	if errors.Is(err, errDryRun) {
		err = nil
	}
	res.Problems = probs.Errs
	res.Applied = apply && err == nil && len(res.Problems) == 0
	if res.Applied {
		err = s.st.RefreshBoard(ctx, 0)
	}
	return res, err
}
