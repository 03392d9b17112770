package admin

import (
	"context"
	"crypto/rand"
	"regexp"
	"strings"

	"campuspay/internal/apperr"
	"campuspay/internal/auth"
	"campuspay/internal/billing"
)

// NewStaff is a staff member to create: SchoolID 0 only for an operator.
type NewStaff struct {
	SchoolID    int64
	Role        Role
	Username    string
	DisplayName string
}

// Handover is what is handed over once, when a staff member is created or
// reset: the one-time password (changed at first login), the
// authenticator to scan and the recovery codes. None is stored in the clear.
type Handover struct {
	Staff         Staff
	Password      string
	Enrolment     Enrolment
	RecoveryCodes []string
}

var usernameRe = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]{2,31}$`)

// oneTimePassword is 12 characters of the recovery alphabet in groups.
func oneTimePassword() string {
	const alphabet = "abcdefghjkmnpqrstuvwxyz23456789"
	b := make([]byte, 12)
	var out strings.Builder
	for i := 0; i < len(b); {
		if _, err := rand.Read(b[i : i+1]); err != nil {
			panic(err)
		}
		if b[i] >= byte(256/len(alphabet)*len(alphabet)) {
			continue
		}
		if i > 0 && i%4 == 0 {
			out.WriteByte('-')
		}
		out.WriteByte(alphabet[int(b[i])%len(alphabet)])
		i++
	}
	return out.String()
}

// CreateStaff adds a staff member. An operator may create anyone; a
// school's admin may create admins, clerks and auditors of the school.
// The answer carries the one-time password, the TOTP enrolment (otpauth
// URL and QR code) and ten recovery codes, shown once.
func (s *Service) CreateStaff(ctx context.Context, p Principal, n NewStaff) (Handover, error) {
	n.Username = strings.ToLower(strings.TrimSpace(n.Username))
	n.DisplayName = strings.TrimSpace(n.DisplayName)
	switch {
	case !n.Role.Valid():
		return Handover{}, apperr.New(apperr.Invalid, CodeInvalidStaff, "角色须为 operator、admin、clerk 或 auditor")
	case (n.Role == RoleOperator) != (n.SchoolID == 0):
		return Handover{}, apperr.New(apperr.Invalid, CodeInvalidStaff, "平台运营人员不属于任何学校；学校人员必须指定学校")
	case !usernameRe.MatchString(n.Username):
		return Handover{}, apperr.New(apperr.Invalid, CodeInvalidStaff, "用户名须为 3–32 位小写字母、数字或 . _ -，以字母或数字开头")
	case len([]rune(n.DisplayName)) > 32:
		return Handover{}, apperr.New(apperr.Invalid, CodeInvalidStaff, "姓名最多 32 个字")
	}
	if err := authorize(p, PermManageStaff, n.SchoolID); err != nil {
		return Handover{}, err
	}
	if n.SchoolID != 0 {
		if _, err := s.school(ctx, p, PermManageStaff, n.SchoolID); err != nil {
			return Handover{}, err
		}
	}
	pw := oneTimePassword()
	h, err := auth.HashPasswordCtx(ctx, pw)
	if err != nil {
		return Handover{}, err
	}
	secret := NewTOTPSecret()
	codes, hashes := newRecoveryCodes(10)
	st := Staff{SchoolID: n.SchoolID, Username: n.Username, DisplayName: n.DisplayName, Role: n.Role, PasswordHash: h,
		MustChangePassword: true, TOTPSecret: secret}
	err = s.st.AdminUpdate(ctx, func(tx Tx) error {
		if err := tx.InsertStaff(ctx, &st, hashes); err != nil {
			return err
		}
		_, err := tx.Audit(ctx, record(p, ActStaffCreate, "staff:"+st.Username, n.SchoolID, nil, staffState(st)))
		return err
	})
	if err != nil {
		return Handover{}, err
	}
	return Handover{Staff: st, Password: pw, Enrolment: s.enrolment(st.Username, secret), RecoveryCodes: codes}, nil
}

// staffState is what audit rows record of a staff member (no secrets).
func staffState(st Staff) map[string]any {
	return map[string]any{"username": st.Username, "display_name": st.DisplayName, "role": st.Role, "school_id": st.SchoolID,
		"disabled": st.Disabled}
}

// ListStaff lists a school's staff (0: the platform's operators).
func (s *Service) ListStaff(ctx context.Context, p Principal, schoolID int64) ([]Staff, error) {
	if err := authorize(p, PermViewStaff, schoolID); err != nil {
		return nil, err
	}
	out, err := s.st.StaffList(ctx, schoolID)
	for i := range out {
		out[i].PasswordHash, out[i].TOTPSecret, out[i].TOTPPending = "", "", ""
	}
	return out, err
}

// managed loads a staff member the principal may manage (same school, or
// any for an operator; only an operator manages operators).
func (s *Service) managed(ctx context.Context, tx Tx, p Principal, schoolID, staffID int64) (Staff, error) {
	if err := authorize(p, PermManageStaff, schoolID); err != nil {
		return Staff{}, err
	}
	st, err := tx.LockStaff(ctx, staffID)
	if isNotFound(err) || (err == nil && st.SchoolID != schoolID) {
		return Staff{}, apperr.New(apperr.NotFound, CodeStaffNotFound, "没有这位工作人员")
	}
	return st, err
}

// ResetStaff gives a staff member who lost their password or phone a new
// one-time password, a new authenticator and new recovery codes, and ends
// their sessions.
func (s *Service) ResetStaff(ctx context.Context, p Principal, schoolID, staffID int64) (Handover, error) {
	if err := authorize(p, PermManageStaff, schoolID); err != nil {
		return Handover{}, err
	}
	pw := oneTimePassword()
	h, err := auth.HashPasswordCtx(ctx, pw)
	if err != nil {
		return Handover{}, err
	}
	secret := NewTOTPSecret()
	codes, hashes := newRecoveryCodes(10)
	var st Staff
	err = s.st.AdminUpdate(ctx, func(tx Tx) error {
		var err error
		if st, err = s.managed(ctx, tx, p, schoolID, staffID); err != nil {
			return err
		}
		st.PasswordHash, st.MustChangePassword, st.TOTPSecret, st.TOTPPending = h, true, secret, ""
		tx.UpdateStaff(st)
		tx.ReplaceRecoveryCodes(st.ID, hashes)
		tx.DeleteStaffSessions(st.ID, "")
		_, err = tx.Audit(ctx, record(p, ActStaffReset, "staff:"+st.Username, schoolID, nil, staffState(st)))
		return err
	})
	if err != nil {
		return Handover{}, err
	}
	return Handover{Staff: st, Password: pw, Enrolment: s.enrolment(st.Username, secret), RecoveryCodes: codes}, nil
}

// SetStaffDisabled turns a staff member's access off (their sessions end)
// or on again. Nobody disables themselves.
func (s *Service) SetStaffDisabled(ctx context.Context, p Principal, schoolID, staffID int64, disabled bool) error {
	if err := authorize(p, PermManageStaff, schoolID); err != nil {
		return err
	}
	if staffID == p.Staff.ID {
		return apperr.New(apperr.Invalid, CodeInvalidStaff, "不能停用自己的账号")
	}
	return s.st.AdminUpdate(ctx, func(tx Tx) error {
		st, err := s.managed(ctx, tx, p, schoolID, staffID)
		if err != nil {
			return err
		}
		before := staffState(st)
		st.Disabled = disabled
		tx.UpdateStaff(st)
		if disabled {
			tx.DeleteStaffSessions(st.ID, "")
		}
		_, err = tx.Audit(ctx, record(p, ActStaffDisable, "staff:"+st.Username, schoolID, before, staffState(st)))
		return err
	})
}

// ---- schools ----

// Schools lists the schools the principal may see: every school for an
// operator, their own for the others.
func (s *Service) Schools(ctx context.Context, p Principal) ([]billing.School, error) {
	if p.Staff.Role == "" {
		return nil, ErrUnauthorized
	}
	if p.Staff.Role != RoleOperator {
		if p.School == nil {
			return nil, ErrForbidden
		}
		return []billing.School{*p.School}, nil
	}
	return s.st.Schools(ctx)
}

// SchoolByCode finds a school the principal may see, for front doors that
// name schools by code; another school is forbidden, whether it exists or
// not.
func (s *Service) SchoolByCode(ctx context.Context, p Principal, code string) (billing.School, error) {
	if p.Staff.Role == "" {
		return billing.School{}, ErrUnauthorized
	}
	if p.Staff.Role != RoleOperator {
		if p.School == nil || p.School.Code != code {
			return billing.School{}, ErrForbidden
		}
		return *p.School, nil
	}
	sc, err := s.st.SchoolByCode(ctx, code)
	if isNotFound(err) {
		return sc, apperr.New(apperr.NotFound, billing.CodeSchoolNotFound, "学校不存在")
	}
	return sc, err
}
