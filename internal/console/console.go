// Package console is the finance office's console under /admin/ (SPEC §1,
// §7): server-rendered pages from typed models over internal/admin, which
// checks every action's role and school itself. Logins take password and
// TOTP; forms carry the session's CSRF token and cross-origin posts are
// refused; pages are served with a strict Content-Security-Policy (the
// stylesheet and the one script are inlined and allowed by hash).
//
// Money operations of later issues (refunds, waivers, approvals,
// reconciliation) are new pages: a handler in a new file, a template, a
// nav entry gated by its admin.Perm, and the service method it calls.
package console

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"embed"
	"encoding/base64"
	"html/template"
	"io"
	"io/fs"
	"log/slog"
	"net/http"
	"net/netip"
	"time"

	"campuspay/internal/admin"
	"campuspay/internal/audit"
	"campuspay/internal/billing"
	"campuspay/internal/board"
	"campuspay/internal/importer"
	"campuspay/internal/jobs"
	"campuspay/internal/pagesec"
)

// Service is what the console needs of internal/admin.
type Service interface {
	Login(ctx context.Context, c admin.Credentials) (admin.LoginResult, error)
	Authenticate(ctx context.Context, kind, token string, client netip.Addr) (admin.Principal, error)
	Logout(ctx context.Context, p admin.Principal) error
	ChangePassword(ctx context.Context, p admin.Principal, old, new string) error
	BeginEnrolment(ctx context.Context, p admin.Principal, password string) (admin.Enrolment, error)
	ConfirmEnrolment(ctx context.Context, p admin.Principal, code string) ([]string, error)
	Schools(ctx context.Context, p admin.Principal) ([]billing.School, error)
	SchoolByCode(ctx context.Context, p admin.Principal, code string) (billing.School, error)

	Board(ctx context.Context, p admin.Principal, schoolID int64, f board.Filter) (admin.BoardView, error)
	SearchStudents(ctx context.Context, p admin.Principal, schoolID int64, q string) ([]admin.StudentRow, error)
	Student(ctx context.Context, p admin.Principal, schoolID int64, studentNo string) (admin.StudentView, error)
	UnlockStudent(ctx context.Context, p admin.Principal, schoolID int64, studentNo string) error

	FeeSetup(ctx context.Context, p admin.Principal, schoolID int64) (admin.FeeSetup, error)
	SaveProject(ctx context.Context, p admin.Principal, schoolID int64, pr admin.Project) (admin.Project, error)
	SaveItem(ctx context.Context, p admin.Principal, schoolID int64, it admin.Item, applyToLines bool) (admin.Item, error)
	SaveStandard(ctx context.Context, p admin.Principal, schoolID int64, st admin.Standard) (admin.Standard, error)
	DeleteStandard(ctx context.Context, p admin.Principal, schoolID, id int64) error
	AssignDorms(ctx context.Context, p admin.Principal, schoolID int64, csvFile []byte) (int, []importer.LineError, error)
	GenerateBills(ctx context.Context, p admin.Principal, schoolID int64, grade string, apply bool) (admin.GenerateResult, error)
	Policy(ctx context.Context, p admin.Principal, schoolID int64) (billing.Policy, error)
	UpdatePolicy(ctx context.Context, p admin.Principal, schoolID int64, pol billing.Policy, channels []string) error

	PreviewImport(ctx context.Context, p admin.Principal, schoolID int64, kind, filename string, content []byte) (admin.ImportPreview, error)
	ConfirmImport(ctx context.Context, p admin.Principal, schoolID, batchID int64) (admin.ImportPreview, error)
	Imports(ctx context.Context, p admin.Principal, schoolID int64) ([]admin.ImportBatch, error)

	ExportPayments(ctx context.Context, p admin.Principal, schoolID int64, from, to time.Time, w io.Writer) error
	ExportOutstanding(ctx context.Context, p admin.Principal, schoolID int64, w io.Writer) error
	ExportBoard(ctx context.Context, p admin.Principal, schoolID int64, f board.Filter, w io.Writer) error
	ExportAudit(ctx context.Context, p admin.Principal, schoolID int64, q admin.AuditQuery, w io.Writer) error

	AuditLog(ctx context.Context, p admin.Principal, schoolID int64, q admin.AuditQuery) ([]audit.Record, error)
	VerifyAudit(ctx context.Context, p admin.Principal, schoolID int64) (admin.VerifyReport, error)

	ListStaff(ctx context.Context, p admin.Principal, schoolID int64) ([]admin.Staff, error)
	CreateStaff(ctx context.Context, p admin.Principal, n admin.NewStaff) (admin.Handover, error)
	ResetStaff(ctx context.Context, p admin.Principal, schoolID, staffID int64) (admin.Handover, error)
	SetStaffDisabled(ctx context.Context, p admin.Principal, schoolID, staffID int64, disabled bool) error

	DeadJobs(ctx context.Context, p admin.Principal) ([]jobs.Dead, error)
	ReviveJob(ctx context.Context, p admin.Principal, id int64) error
}

var _ Service = (*admin.Service)(nil)

// Deps are what the console stands on.
type Deps struct {
	Admin Service
	// Reminders are the payment reminders (催缴提醒); nil: no such page.
	Reminders Reminders
	// Channels are the platform's channel names (the policy page's choices).
	Channels []string
	// ChannelLabel names a channel for people (its adapter's label); nil
	// shows the name.
	ChannelLabel func(name string) string
	// TrustedProxies are the reverse proxies whose X-Forwarded-For names
	// the client.
	TrustedProxies []netip.Prefix
	// Secret keys the login form's CSRF token; random when empty.
	Secret []byte
	// LiveEvery is how often the board page refreshes itself; default 5 s.
	LiveEvery time.Duration
	Log       *slog.Logger
	Now       func() time.Time
	// Reconcile is the daily reconciliation; nil leaves its pages out.
	Reconcile Reconciler
}

//go:embed templates/*.html assets/*
var files embed.FS

var (
	styleCSS template.CSS
	appJS    template.JS
	csp      string
)

func init() {
	css, err := fs.ReadFile(files, "assets/console.css")
	if err != nil {
		panic(err)
	}
	js, err := fs.ReadFile(files, "assets/console.js")
	if err != nil {
		panic(err)
	}
	styleCSS, appJS = template.CSS(css), template.JS(js)
	csp = "default-src 'none'; style-src " + hash(string(styleCSS)) + "; script-src " + hash(string(appJS)) +
		"; img-src 'self' data:; connect-src 'self'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'"
}

func hash(s string) string {
	h := sha256.Sum256([]byte(s))
	return "'sha256-" + base64.StdEncoding.EncodeToString(h[:]) + "'"
}

type handler struct {
	Deps
	pages *pageSet
}

// NewHandler builds the console: every route under /admin/.
func NewHandler(d Deps) http.Handler {
	if d.Log == nil {
		d.Log = slog.New(slog.DiscardHandler)
	}
	if d.Now == nil {
		d.Now = time.Now
	}
	if d.LiveEvery <= 0 {
		d.LiveEvery = 5 * time.Second
	}
	if len(d.Secret) == 0 {
		d.Secret = make([]byte, 32)
		if _, err := rand.Read(d.Secret); err != nil {
			panic(err)
		}
	}
	if d.ChannelLabel == nil {
		d.ChannelLabel = func(name string) string { return name }
	}
	h := &handler{Deps: d, pages: loadPages(d.ChannelLabel)}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /admin/{$}", h.staff(h.home))
	mux.HandleFunc("GET /admin/login", h.loginPage)
	mux.HandleFunc("POST /admin/login", h.login)
	mux.HandleFunc("POST /admin/logout", h.staff(h.logout))
	mux.HandleFunc("GET /admin/password", h.staff(h.passwordPage))
	mux.HandleFunc("POST /admin/password", h.staff(h.changePassword))
	mux.HandleFunc("GET /admin/enrol", h.staff(h.enrolPage))
	mux.HandleFunc("POST /admin/enrol", h.staff(h.enrol))
	mux.HandleFunc("GET /admin/platform/staff", h.staff(h.platformStaff))
	mux.HandleFunc("POST /admin/platform/staff", h.staff(h.createPlatformStaff))
	mux.HandleFunc("POST /admin/platform/staff/{id}/reset", h.staff(h.platform(h.resetStaff)))
	mux.HandleFunc("POST /admin/platform/staff/{id}/disable", h.staff(h.platform(h.disableStaff)))
	mux.HandleFunc("GET /admin/platform/audit", h.staff(h.platformAudit))
	mux.HandleFunc("GET /admin/platform/jobs", h.staff(h.deadJobs))
	mux.HandleFunc("POST /admin/platform/jobs/{id}/revive", h.staff(h.reviveJob))

	mux.HandleFunc("GET /admin/s/{school}/{$}", h.school(h.schoolHome))
	mux.HandleFunc("GET /admin/s/{school}/board", h.school(h.board))
	mux.HandleFunc("GET /admin/s/{school}/board/live", h.school(h.boardLive))
	mux.HandleFunc("GET /admin/s/{school}/students", h.school(h.students))
	mux.HandleFunc("GET /admin/s/{school}/students/{no}", h.school(h.student))
	mux.HandleFunc("POST /admin/s/{school}/students/{no}/unlock", h.school(h.unlock))
	mux.HandleFunc("GET /admin/s/{school}/fees", h.school(h.fees))
	mux.HandleFunc("POST /admin/s/{school}/fees/project", h.school(h.saveProject))
	mux.HandleFunc("POST /admin/s/{school}/fees/item", h.school(h.saveItem))
	mux.HandleFunc("POST /admin/s/{school}/fees/standard", h.school(h.saveStandard))
	mux.HandleFunc("POST /admin/s/{school}/fees/standard/{id}/delete", h.school(h.deleteStandard))
	mux.HandleFunc("POST /admin/s/{school}/fees/dorms", h.school(h.dorms))
	mux.HandleFunc("POST /admin/s/{school}/fees/generate", h.school(h.generate))
	mux.HandleFunc("GET /admin/s/{school}/policy", h.school(h.policy))
	mux.HandleFunc("POST /admin/s/{school}/policy", h.school(h.savePolicy))
	mux.HandleFunc("GET /admin/s/{school}/imports", h.school(h.imports))
	mux.HandleFunc("POST /admin/s/{school}/imports", h.school(h.upload))
	mux.HandleFunc("POST /admin/s/{school}/imports/{id}/confirm", h.school(h.confirm))
	mux.HandleFunc("GET /admin/s/{school}/exports", h.school(h.exports))
	mux.HandleFunc("GET /admin/s/{school}/exports/{kind}", h.school(h.download))
	mux.HandleFunc("GET /admin/s/{school}/audit", h.school(h.auditPage))
	mux.HandleFunc("GET /admin/s/{school}/audit.xlsx", h.school(h.auditExport))
	mux.HandleFunc("POST /admin/s/{school}/audit/verify", h.school(h.verify))
	mux.HandleFunc("GET /admin/s/{school}/staff", h.school(h.staffPage))
	mux.HandleFunc("POST /admin/s/{school}/staff", h.school(h.createStaff))
	mux.HandleFunc("POST /admin/s/{school}/staff/{id}/reset", h.school(h.resetStaff))
	mux.HandleFunc("POST /admin/s/{school}/staff/{id}/disable", h.school(h.disableStaff))
	mux.HandleFunc("GET /admin/s/{school}/reconcile", h.school(h.reconcileList))
	mux.HandleFunc("POST /admin/s/{school}/reconcile", h.school(h.runReconcile))
	mux.HandleFunc("GET /admin/s/{school}/reconcile/{channel}/{day}", h.school(h.reconciliation))
	mux.HandleFunc("GET /admin/s/{school}/reminders", h.school(h.reminders))
	mux.HandleFunc("POST /admin/s/{school}/reminders", h.school(h.sendReminders))
	h.moneyRoutes(mux)
	mux.HandleFunc("/admin/", func(w http.ResponseWriter, r *http.Request) {
		h.renderError(w, r, nil, http.StatusNotFound, "页面不存在")
	})
	cop := http.NewCrossOriginProtection()
	cop.SetDenyHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.renderError(w, r, nil, http.StatusForbidden, "请求来源不明，请回到管理后台重新操作")
	}))
	return securityHeaders(cop.Handler(mux))
}

// securityHeaders sets what every console response carries.
func securityHeaders(next http.Handler) http.Handler { return pagesec.Headers(csp, true, next) }

var beijing = time.FixedZone("CST", 8*3600)

func fmtTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.In(beijing).Format("2006-01-02 15:04:05")
}
