package admin

import (
	"campuspay/internal/apperr"
	"campuspay/internal/billing"
)

// Role is what a staff member may do (SPEC Appendix B).
type Role string

// Roles. An operator runs the platform and every school; an admin, a
// clerk and an auditor belong to one school.
const (
	RoleOperator Role = "operator"
	RoleAdmin    Role = "admin"
	RoleClerk    Role = "clerk"
	RoleAuditor  Role = "auditor"
)

// Roles lists every role, the strongest first.
var Roles = []Role{RoleOperator, RoleAdmin, RoleClerk, RoleAuditor}

// Valid reports whether r is a known role.
func (r Role) Valid() bool {
	for _, x := range Roles {
		if r == x {
			return true
		}
	}
	return false
}

// Label is the role's name as the console shows it.
func (r Role) Label() string {
	switch r {
	case RoleOperator:
		return "平台运营"
	case RoleAdmin:
		return "学校管理员"
	case RoleClerk:
		return "财务人员"
	case RoleAuditor:
		return "审计员（只读）"
	}
	return string(r)
}

// Perm is one kind of action a service method performs.
type Perm string

// Permissions. Every service method checks one, with the school it acts
// on; reading and changing are separate so that an auditor reads all and
// changes nothing. A staff member's own password and authenticator are
// not permissions: everyone may change their own.
const (
	PermViewBoard     Perm = "board.view"
	PermViewStudents  Perm = "students.view"
	PermUnlockStudent Perm = "students.unlock"
	PermViewFees      Perm = "fees.view"
	PermEditFees      Perm = "fees.edit"     // projects, items, fee standards, dormitory types
	PermGenerateBills Perm = "fees.generate" // bills from fee standards
	PermEditPolicy    Perm = "policy.edit"
	PermImport        Perm = "imports.apply" // preview and confirm
	PermViewImports   Perm = "imports.view"
	PermExport        Perm = "exports.make"
	PermViewAudit     Perm = "audit.view"
	PermViewStaff     Perm = "staff.view"
	PermManageStaff   Perm = "staff.manage"
	PermManageSchools Perm = "schools.manage" // the platform only
	PermViewReconcile Perm = "reconcile.view" // reconciliations against the channels' statements
	PermReconcile     Perm = "reconcile.run"  // run one now (it may apply what the channel confirms)
	PermRemind        Perm = "reminders.send" // payment reminders to students (SMS or notice)
	// Money operations (four eyes): everyone but an auditor may ask for an
	// adjustment, a refund or a suspense resolution; only an admin (or an
	// operator) approves, never their own request, and their own requests
	// apply at once.
	PermViewMoney    Perm = "money.view"
	PermRequestMoney Perm = "money.request"
	PermApproveMoney Perm = "money.approve"
)

// AllPerms lists every permission.
var AllPerms = []Perm{PermViewBoard, PermViewStudents, PermUnlockStudent, PermViewFees, PermEditFees, PermGenerateBills,
	PermEditPolicy, PermImport, PermViewImports, PermExport, PermViewAudit, PermViewStaff, PermManageStaff, PermManageSchools,
	PermViewReconcile, PermReconcile, PermRemind, PermViewMoney, PermRequestMoney, PermApproveMoney}

// grants is the one table of who may do what.
var grants = map[Role]map[Perm]bool{
	RoleOperator: set(AllPerms...),
	RoleAdmin: set(PermViewBoard, PermViewStudents, PermUnlockStudent, PermViewFees, PermEditFees, PermGenerateBills,
		PermEditPolicy, PermImport, PermViewImports, PermExport, PermViewAudit, PermViewStaff, PermManageStaff,
		PermViewReconcile, PermReconcile, PermRemind, PermViewMoney, PermRequestMoney, PermApproveMoney),
	RoleClerk: set(PermViewBoard, PermViewStudents, PermUnlockStudent, PermViewFees, PermImport, PermViewImports, PermExport,
		PermViewReconcile, PermReconcile, PermRemind, PermViewMoney, PermRequestMoney),
	RoleAuditor: set(PermViewBoard, PermViewStudents, PermViewFees, PermViewImports, PermExport, PermViewAudit,
		PermViewStaff, PermViewReconcile, PermViewMoney),
}

func set(ps ...Perm) map[Perm]bool {
	m := map[Perm]bool{}
	for _, p := range ps {
		m[p] = true
	}
	return m
}

// Can reports whether a role holds a permission.
func Can(r Role, p Perm) bool { return grants[r][p] }

// Principal is who acts: a logged-in staff member (with their school, nil
// for an operator) and where the request came from.
type Principal struct {
	Staff     Staff
	School    *billing.School
	TokenHash string
	CSRF      string
	Client    string
}

// System is the principal of the command line and of the platform's own
// work (journal seals): it has an operator's rights and is recorded as
// actor "system" with no staff id.
func System(client string) Principal {
	return Principal{Staff: Staff{Username: "system", Role: RoleOperator}, Client: client}
}

// Can reports whether the principal may act with permission p on school
// schoolID (0: the platform itself).
func (p Principal) Can(perm Perm, schoolID int64) bool {
	if !Can(p.Staff.Role, perm) || p.Staff.Disabled {
		return false
	}
	return p.Staff.Role == RoleOperator || (schoolID != 0 && p.Staff.SchoolID == schoolID)
}

// authorize is the check every service method makes first.
func authorize(p Principal, perm Perm, schoolID int64) error {
	if p.Staff.Role == "" {
		return ErrUnauthorized
	}
	if !p.Can(perm, schoolID) {
		return ErrForbidden.With("permission", string(perm))
	}
	return nil
}

// Errors with stable codes (SPEC Appendix B and the console).
const (
	CodeForbidden        = "forbidden"
	CodeUnauthorized     = "unauthorized"
	CodeBadCredentials   = "bad_credentials"
	CodeBadTOTP          = "bad_totp"
	CodeLoginLocked      = "login_locked"
	CodeMustChange       = "must_change_password"
	CodeStaffExists      = "staff_exists"
	CodeInvalidStaff     = "invalid_staff"
	CodeStaffNotFound    = "staff_not_found"
	CodeStudentNotFound  = "student_not_found"
	CodeImportNotFound   = "import_not_found"
	CodeImportNotPending = "import_not_pending"
	CodeImportRefused    = "import_refused"
	CodeInvalidFee       = "invalid_fee"
	CodeInvalidPolicy    = "invalid_policy"
	CodeInvalidPeriod    = "invalid_period"
	CodeNothingToDo      = "nothing_to_generate"
	CodeWeakPassword     = "weak_password"
	CodeBadOldPassword   = "bad_old_password"
	CodeNoEnrolment      = "no_enrolment"
)

var (
	// ErrUsernameTaken, ErrProjectExists and ErrItemExists are the
	// uniqueness the store enforces, in the office's words.
	ErrUsernameTaken = apperr.New(apperr.Conflict, CodeStaffExists, "用户名已被使用")
	ErrProjectExists = apperr.New(apperr.Conflict, CodeInvalidFee, "本校已有同名收费项目")
	ErrItemExists    = apperr.New(apperr.Conflict, CodeInvalidFee, "该收费项目下已有同名子项目")
	// ErrForbidden refuses an action the role or the school does not allow.
	ErrForbidden = apperr.New(apperr.Forbidden, CodeForbidden, "无权进行此操作")
	// ErrUnauthorized asks for a login.
	ErrUnauthorized = apperr.New(apperr.Unauthorized, CodeUnauthorized, "请先登录")
	// ErrBadCredentials is a wrong username or password, alike.
	ErrBadCredentials = apperr.New(apperr.Unauthorized, CodeBadCredentials, "用户名或密码错误")
	// ErrBadTOTP is a wrong, old or reused authenticator code.
	ErrBadTOTP = apperr.New(apperr.Unauthorized, CodeBadTOTP, "动态验证码错误或已使用，请输入验证器上的最新 6 位数字")
	// ErrMustChange refuses everything but the password change after a
	// login with a one-time password.
	ErrMustChange = apperr.New(apperr.Forbidden, CodeMustChange, "首次登录请先修改一次性密码")

	errStudentNotFound = apperr.New(apperr.NotFound, CodeStudentNotFound, "本校没有这个学号的学生")
)
