// Package mobile is the phone app as an installable mobile web app under
// /m/ (SPEC §2, App): phone number → SMS code (免费获取) → password →
// 选择地区 → 选择学校 (✓) → 缴费 → 绑定学生 → 待缴费 → an item → 全选 → 支付
// → 支付确认 → 银联在线支付 (or 微信支付 H5) → 返回商户 → result → 完成;
// 已缴费; 我的 → 交易记录; 我的 → 个人资料 → 手机号. Pages are rendered on
// the server over the same services as the web portal and the API (the
// account service, the payment service): every rule is decided there,
// never here and never in JavaScript. A web manifest, icons and a service
// worker make it installable; the worker caches the shell only, never a
// page with money or personal data.
package mobile

import (
	"context"
	"crypto/rand"
	"log/slog"
	"net/http"
	"net/netip"
	"time"

	"campuspay/internal/account"
	"campuspay/internal/billing"
	"campuspay/internal/pagesec"
	"campuspay/internal/payment"
)

// Accounts is what the app needs of the phone accounts.
type Accounts interface {
	SendCode(ctx context.Context, req account.SendRequest) (time.Duration, error)
	SMSLogin(ctx context.Context, phone, code string, client netip.Addr) (account.Login, error)
	PasswordLogin(ctx context.Context, phone, password string, client netip.Addr) (account.Login, error)
	Authenticate(ctx context.Context, token string) (account.Principal, error)
	Logout(ctx context.Context, p account.Principal) error
	OldPasswordNeeded(p account.Principal) bool
	SetPassword(ctx context.Context, p account.Principal, c account.PasswordChange) (string, error)
	ChangePhone(ctx context.Context, p account.Principal, newPhone, code string, client netip.Addr) (string, error)
	ChooseSchool(ctx context.Context, p account.Principal, code string) (billing.School, error)
	School(ctx context.Context, p account.Principal) (billing.School, bool, error)
	Bind(ctx context.Context, p account.Principal, r account.BindRequest) (account.Bound, error)
	Bindings(ctx context.Context, p account.Principal) ([]account.Bound, error)
	Unbind(ctx context.Context, p account.Principal, studentID int64) error
	ActFor(ctx context.Context, p account.Principal, studentID int64) (account.Bound, error)
}

// Payments is what the app needs of the payment service.
type Payments interface {
	Board(ctx context.Context, studentID int64, p billing.Policy) (billing.Board, error)
	Preview(ctx context.Context, studentID int64, p billing.Policy, lineIDs []int64) (billing.Decision, error)
	Methods(school billing.School) []payment.ChannelInfo
	Create(ctx context.Context, req payment.CreateRequest) (payment.Checkout, error)
	Resume(ctx context.Context, o payment.Order, req payment.ResumeRequest) (payment.PayInstruction, error)
	Cancel(ctx context.Context, studentID int64, orderNo string) (payment.Order, error)
	StudentOrder(ctx context.Context, studentID int64, orderNo string) (payment.Order, error)
	StudentOrders(ctx context.Context, studentID int64) ([]payment.Order, error)
	StudentLines(ctx context.Context, studentID int64) ([]billing.Line, error)
	Explain(ctx context.Context, o payment.Order, p billing.Policy) *payment.Explanation
	HandleNotification(ctx context.Context, channel string, header map[string][]string, body []byte, source string) (payment.Notified, error)
	Config() payment.Config
}

// Schools is the platform's directory of schools.
type Schools interface {
	Regions(ctx context.Context) ([]billing.Region, error)
}

var (
	_ Accounts = (*account.Service)(nil)
	_ Payments = (*payment.Service)(nil)
	_ Schools  = (*billing.Directory)(nil)
)

// Deps are the services the app stands on.
type Deps struct {
	Accounts Accounts
	Payments Payments
	Schools  Schools
	// Receipts and Reminders, when set, give paid orders their receipts
	// (缴费凭证) and show the finance office's reminders on the fee page.
	Receipts  Receipts
	Reminders Reminders
	// TrustedProxies are the reverse proxies whose X-Forwarded-For names
	// the client (throttles count per client address).
	TrustedProxies []netip.Prefix
	// Secret keys the login forms' CSRF tokens; random when empty.
	Secret []byte
	Log    *slog.Logger
	Now    func() time.Time
}

type handler struct {
	Deps
	pages pageSet
}

// NewHandler builds the app; every route is under /m/.
func NewHandler(d Deps) http.Handler {
	if d.Now == nil {
		d.Now = time.Now
	}
	if d.Log == nil {
		d.Log = slog.New(slog.DiscardHandler)
	}
	if len(d.Secret) == 0 {
		d.Secret = make([]byte, 32)
		rand.Read(d.Secret)
	}
	h := &handler{Deps: d, pages: loadPages()}
	mux := http.NewServeMux()
	// The installable shell: cacheable, no personal data.
	mux.HandleFunc("GET /m/manifest.webmanifest", h.manifest)
	mux.HandleFunc("GET /m/sw.js", h.serviceWorker)
	mux.HandleFunc("GET /m/assets/{file}", h.asset)
	mux.HandleFunc("GET /m/offline", h.offline)
	// Logging in.
	mux.HandleFunc("GET /m/{$}", h.ready(h.home))
	mux.HandleFunc("GET /m/login", h.loginPage)
	mux.HandleFunc("POST /m/login", h.loginPhone)
	mux.HandleFunc("POST /m/login/sms", h.loginSMS)
	mux.HandleFunc("POST /m/login/code", h.loginCode)
	mux.HandleFunc("GET /m/login/password", h.passwordLoginPage)
	mux.HandleFunc("POST /m/login/password", h.passwordLogin)
	mux.HandleFunc("POST /m/logout", h.authed(h.logout))
	mux.HandleFunc("GET /m/password", h.authed(h.passwordPage))
	mux.HandleFunc("POST /m/password", h.authed(h.setPassword))
	// 选择地区, 学校; 绑定学生.
	mux.HandleFunc("GET /m/school", h.ready(h.schoolPage))
	mux.HandleFunc("POST /m/school", h.ready(h.chooseSchool))
	mux.HandleFunc("GET /m/pay", h.ready(h.payMenu))
	mux.HandleFunc("GET /m/bind", h.ready(h.bindPage))
	mux.HandleFunc("POST /m/bind", h.ready(h.bind))
	// One bound student's fees and payments.
	mux.HandleFunc("GET /m/s/{sid}/{$}", h.student(h.fees))
	mux.HandleFunc("GET /m/s/{sid}/p/{pid}", h.student(h.project))
	mux.HandleFunc("POST /m/s/{sid}/confirm", h.student(h.confirm))
	mux.HandleFunc("POST /m/s/{sid}/pay", h.student(h.pay))
	mux.HandleFunc("GET /m/s/{sid}/orders/{order_no}", h.student(h.order))
	mux.HandleFunc("GET /m/s/{sid}/orders/{order_no}/pay", h.student(h.resume))
	mux.HandleFunc("POST /m/s/{sid}/orders/{order_no}/cancel", h.student(h.cancel))
	mux.HandleFunc("GET /m/s/{sid}/orders/{order_no}/receipt", h.student(h.receiptPage))
	mux.HandleFunc("GET /m/s/{sid}/orders/{order_no}/receipt.pdf", h.student(h.receiptPDF))
	mux.HandleFunc("POST /m/s/{sid}/notices/{id}/dismiss", h.student(h.dismissNotice))
	mux.HandleFunc("POST /m/s/{sid}/unbind", h.student(h.unbind))
	mux.HandleFunc("POST /m/s/{sid}/return/{channel}", h.channelReturn)
	// 我的.
	mux.HandleFunc("GET /m/me", h.ready(h.me))
	mux.HandleFunc("GET /m/me/records", h.ready(h.records))
	mux.HandleFunc("GET /m/me/profile", h.ready(h.profile))
	mux.HandleFunc("GET /m/me/phone", h.ready(h.phonePage))
	mux.HandleFunc("POST /m/me/phone/sms", h.ready(h.phoneSMS))
	mux.HandleFunc("POST /m/me/phone", h.ready(h.changePhone))
	mux.HandleFunc("/m/", func(w http.ResponseWriter, r *http.Request) {
		h.renderError(w, r, nil, http.StatusNotFound, errorView{Message: "页面不存在"}, "/m/")
	})
	// Cross-site posts are refused before any handler runs, except the
	// channel's return, which the gateway posts from its own site (its
	// signed fields are verified instead); tokens bound to the session
	// (or, before login, keyed by the server) are the second line.
	cop := http.NewCrossOriginProtection()
	cop.AddInsecureBypassPattern("POST /m/s/{sid}/return/{channel}")
	cop.SetDenyHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.renderError(w, r, nil, http.StatusForbidden, errorView{Message: "请求来源不明，请回到缴费页面重新操作"}, "/m/")
	}))
	return securityHeaders(cop.Handler(mux))
}

// csp is every page's Content-Security-Policy: the app's own scripts,
// styles, images, manifest and service worker only.
const csp = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; manifest-src 'self'; " +
	"worker-src 'self'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'"

// securityHeaders sets what every answer carries.
func securityHeaders(next http.Handler) http.Handler { return pagesec.Headers(csp, false, next) }

// allowFormAction lets a page's form post to another origin (the real
// UnionPay gateway); same-origin targets need nothing.
func allowFormAction(w http.ResponseWriter, target string) { pagesec.AllowFormAction(w, csp, target) }

var beijing = time.FixedZone("CST", 8*3600)

func fmtTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.In(beijing).Format("2006-01-02 15:04")
}
