package account

import (
	"context"
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"strings"

	"campuspay/internal/apperr"
	"campuspay/internal/auth"
	"campuspay/internal/billing"
)

// schoolNotFound is the directory's answer for an unknown school code.
var schoolNotFound = apperr.New(apperr.NotFound, billing.CodeSchoolNotFound, "学校不存在，请重新选择地区和学校")

func (s *Service) schoolByCode(ctx context.Context, code string) (billing.School, error) {
	sc, err := s.st.SchoolByCode(ctx, strings.TrimSpace(code))
	if notFound(err) {
		return sc, schoolNotFound
	}
	return sc, err
}

// ChooseSchool remembers the school the account chose (选择地区, then 学校).
func (s *Service) ChooseSchool(ctx context.Context, p Principal, code string) (billing.School, error) {
	sc, err := s.schoolByCode(ctx, code)
	if err != nil {
		return sc, err
	}
	return sc, s.st.SetAccountSchool(ctx, p.Account.ID, sc.ID)
}

// School is the school the account chose; ok is false when none was.
func (s *Service) School(ctx context.Context, p Principal) (sc billing.School, ok bool, err error) {
	if p.Account.SchoolID == 0 {
		return sc, false, nil
	}
	sc, err = s.st.SchoolByID(ctx, p.Account.SchoolID)
	if notFound(err) {
		return sc, false, nil
	}
	return sc, err == nil, err
}

// BindRequest binds a student on a school's roll to an account (R6).
type BindRequest struct {
	SchoolCode  string
	StudentNo   string // 学号, from the admission letter
	Name        string
	IDCardLast6 string // required where the roll has the student's ID number
	Client      netip.Addr
}

// bindKey is the throttle account of an account's binding attempts.
func bindKey(accountID int64) string { return "bind\x00" + strconv.FormatInt(accountID, 10) }

// Bind checks school + student number + name (+ the last 6 characters of
// the ID number where the roll has one) against the roll and binds the
// student to the account: binding_mismatch when they do not match (the
// same answer whether the number exists or not), id_card_required when
// only the ID's last 6 are missing. Failed binds are throttled per
// client, per (account, client) and per account. Binding a student twice
// changes nothing; an account binds at most Config.MaxBindings students;
// a student may be bound by any number of accounts.
func (s *Service) Bind(ctx context.Context, p Principal, r BindRequest) (Bound, error) {
	sc, err := s.schoolByCode(ctx, r.SchoolCode)
	if err != nil {
		return Bound{}, err
	}
	key := bindKey(p.Account.ID)
	if d := s.binds.Allow(r.Client, key); !d.Allowed {
		return Bound{}, tooMany("绑定失败次数过多", d)
	}
	st, err := s.st.StudentByNo(ctx, sc.ID, strings.TrimSpace(r.StudentNo))
	if err != nil && !notFound(err) {
		s.binds.Released(r.Client, key)
		return Bound{}, err
	}
	if err := matchRoll(st, err == nil, r); err != nil {
		s.binds.Failed(r.Client, key)
		return Bound{}, err
	}
	s.binds.Succeeded(r.Client, key)
	err = s.st.AccountTx(ctx, func(tx Tx) error {
		if _, err := tx.LockAccount(ctx, p.Account.ID); err != nil {
			return err
		}
		ids, err := tx.BoundStudentIDs(ctx, p.Account.ID)
		if err != nil || slices.Contains(ids, st.ID) {
			return err
		}
		if len(ids) >= s.cfg.MaxBindings {
			return apperr.New(apperr.Conflict, CodeBindingLimit, fmt.Sprintf("每个账号最多绑定 %d 名学生，请先解除不再需要的绑定", s.cfg.MaxBindings))
		}
		tx.InsertBinding(p.Account.ID, st.ID)
		return nil
	})
	if err != nil {
		return Bound{}, err
	}
	return s.st.Binding(ctx, p.Account.ID, st.ID)
}

// matchRoll is R6's check of a binding request against the student on the
// roll (found reports whether the number is on it).
func matchRoll(st billing.Student, found bool, r BindRequest) error {
	name := strings.Join(strings.Fields(r.Name), "")
	if !found || name == "" || !auth.EqualConstantTime(name, strings.Join(strings.Fields(st.Name), "")) {
		return ErrBindingMismatch
	}
	if len(st.IDCard) < 6 {
		return nil
	}
	got := strings.ToUpper(strings.TrimSpace(r.IDCardLast6))
	if got == "" {
		return apperr.New(apperr.Invalid, CodeIDCardRequired, "请填写学生身份证号后 6 位").With("identity_field", "id_card_last6")
	}
	if !auth.EqualConstantTime(got, strings.ToUpper(st.IDCard[len(st.IDCard)-6:])) {
		return ErrBindingMismatch
	}
	return nil
}

// Bindings lists the account's students in the order they were bound.
func (s *Service) Bindings(ctx context.Context, p Principal) ([]Bound, error) {
	return s.st.Bindings(ctx, p.Account.ID)
}

// Unbind removes one of the account's students; another's is
// student_not_found.
func (s *Service) Unbind(ctx context.Context, p Principal, studentID int64) error {
	ok, err := s.st.Unbind(ctx, p.Account.ID, studentID)
	if err == nil && !ok {
		return ErrStudentNotFound
	}
	return err
}

// ActFor is the student an account acts for: studentID when the account
// has bound that student (any other, bound by another account or by
// nobody, is student_not_found alike), or, when studentID is 0, the
// account's only student (binding_required without one, student_required
// with several).
func (s *Service) ActFor(ctx context.Context, p Principal, studentID int64) (Bound, error) {
	if studentID != 0 {
		b, err := s.st.Binding(ctx, p.Account.ID, studentID)
		if notFound(err) {
			return b, ErrStudentNotFound
		}
		return b, err
	}
	bs, err := s.st.Bindings(ctx, p.Account.ID)
	switch {
	case err != nil:
		return Bound{}, err
	case len(bs) == 0:
		return Bound{}, apperr.New(apperr.Forbidden, CodeBindingRequired, "请先绑定学生（录取通知书上有学号）")
	case len(bs) > 1:
		return Bound{}, apperr.New(apperr.Invalid, CodeStudentRequired, "该账号绑定了多名学生，请选择为哪一名学生操作（?student=学生ID）")
	}
	return bs[0], nil
}
