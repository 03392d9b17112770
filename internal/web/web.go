// Package web is the student portal under /s/{school}/ (SPEC §2, web): log
// in with 学号 + 密码, change the initial password (R5), see and tick fees
// (R7–R9), pay by 银联在线 or 微信支付, read the verified result and the
// payment records (R10). Pages are server-rendered from typed models; the
// core flow needs no JavaScript.
package web

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"embed"
	"encoding/base64"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"campuspay/internal/auth"
	"campuspay/internal/billing"
	"campuspay/internal/pagesec"
	"campuspay/internal/payment"
)

// Auth is what the portal needs of logins and sessions.
type Auth interface {
	StudentLogin(ctx context.Context, c auth.Credentials) (billing.School, billing.Student, error)
	NewSession(ctx context.Context, kind string, studentID int64) (token, csrf string, err error)
	Authenticate(ctx context.Context, kind, token string) (auth.Principal, error)
	ChangePassword(ctx context.Context, p auth.Principal, c auth.PasswordChange) error
	Logout(ctx context.Context, p auth.Principal) error
}

// Payments is what the portal needs of the payment service.
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
	StudentAttempts(ctx context.Context, studentID int64) ([]payment.Attempt, error)
	Config() payment.Config
}

// Schools is the platform's directory of schools.
type Schools interface {
	Schools(ctx context.Context) ([]billing.School, error)
	School(ctx context.Context, code string) (billing.School, error)
}

var (
	_ Auth     = (*auth.Service)(nil)
	_ Payments = (*payment.Service)(nil)
	_ Schools  = (*billing.Directory)(nil)
)

// Deps are the services the portal stands on.
type Deps struct {
	Auth     Auth
	Payments Payments
	Schools  Schools
	// Receipts and Reminders, when set, give paid orders their receipts
	// (缴费凭证) and show the finance office's reminders on the fee page.
	Receipts  Receipts
	Reminders Reminders
	// PayerPage, when set (the sandbox is on), is the page where a test
	// payer pays a QR code without a phone; the portal links to it.
	PayerPage func(codeURL string) string
	// Sandbox says the sandbox is on, for the home page's link to it.
	Sandbox bool
	// PlatformName is the platform's one name on every page (and, set
	// alike in payment.Config.Merchant, at the channel); "" means
	// DefaultPlatformName.
	PlatformName string
	// TrustedProxies are the reverse proxies whose X-Forwarded-For names
	// the client (throttles count per client address).
	TrustedProxies []netip.Prefix
	// Secret keys the login form's CSRF token; random when empty.
	Secret []byte
	Log    *slog.Logger
	Now    func() time.Time
}

//go:embed templates/*.html assets/*
var files embed.FS

// Inline assets: the stylesheet and scripts are inlined into the pages and
// allowed by their hashes in the Content-Security-Policy, so the portal
// needs no asset routes and no 'unsafe-inline'.
var (
	styleCSS     template.CSS
	appJS        template.JS
	autoSubmitJS template.JS = `(function () {
  var back = function () { document.documentElement.className += " came-back"; };
  window.addEventListener("pageshow", function (e) { if (e.persisted) { back(); } });
  var nav = window.performance && performance.getEntriesByType && performance.getEntriesByType("navigation")[0];
  if (nav && nav.type === "back_forward") { back(); return; }
  document.getElementById("unionpay-form").submit();
})();`
	cspBase string
)

// DefaultPlatformName is the platform's name when Deps leaves it empty.
const DefaultPlatformName = "校园缴费平台"

func init() {
	css, err := fs.ReadFile(files, "assets/style.css")
	if err != nil {
		panic(err)
	}
	js, err := fs.ReadFile(files, "assets/app.js")
	if err != nil {
		panic(err)
	}
	styleCSS, appJS = template.CSS(css), template.JS(js)
	cspBase = "default-src 'none'; style-src " + hash(string(styleCSS)) +
		"; script-src " + hash(string(appJS)) + " " + hash(string(autoSubmitJS)) +
		"; img-src 'self'; connect-src 'self'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'"
}

func hash(s string) string {
	h := sha256.Sum256([]byte(s))
	return "'sha256-" + base64.StdEncoding.EncodeToString(h[:]) + "'"
}

type handler struct {
	Deps
	pages *pageSet
	pays  *payCache
}

// NewHandler builds the portal: the home page at "/" (every school's
// portal, and the sandbox when it is on) and every route under /s/{school}/.
func NewHandler(d Deps) http.Handler {
	if d.Now == nil {
		d.Now = time.Now
	}
	if d.Log == nil {
		d.Log = slog.New(slog.DiscardHandler)
	}
	if d.PlatformName == "" {
		d.PlatformName = DefaultPlatformName
	}
	if len(d.Secret) == 0 {
		d.Secret = make([]byte, 32)
		if _, err := rand.Read(d.Secret); err != nil {
			panic(err)
		}
	}
	h := &handler{Deps: d, pages: loadPages(), pays: &payCache{m: map[string]payment.PayInstruction{}}}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", h.home)
	mux.HandleFunc("GET /s/{school}/{$}", h.loginPage)
	mux.HandleFunc("GET /s/{school}/login", h.loginPage)
	mux.HandleFunc("POST /s/{school}/login", h.login)
	mux.HandleFunc("POST /s/{school}/logout", h.student(false, h.logout))
	mux.HandleFunc("GET /s/{school}/password", h.student(false, h.passwordPage))
	mux.HandleFunc("POST /s/{school}/password", h.student(false, h.changePassword))
	mux.HandleFunc("GET /s/{school}/fees", h.student(true, h.fees))
	mux.HandleFunc("GET /s/{school}/fees/check", h.student(true, h.feesCheck))
	mux.HandleFunc("POST /s/{school}/checkout", h.student(true, h.checkout))
	mux.HandleFunc("GET /s/{school}/checkout", h.student(true, h.checkoutPage))
	mux.HandleFunc("POST /s/{school}/pay", h.student(true, h.pay))
	mux.HandleFunc("POST /s/{school}/return/{channel}", h.channelReturn)
	mux.HandleFunc("GET /s/{school}/orders", h.student(true, h.orders))
	mux.HandleFunc("GET /s/{school}/orders/{order_no}", h.student(true, h.order))
	mux.HandleFunc("GET /s/{school}/orders/{order_no}/status", h.student(true, h.orderStatus))
	mux.HandleFunc("GET /s/{school}/orders/{order_no}/qr.png", h.student(true, h.qr))
	mux.HandleFunc("GET /s/{school}/orders/{order_no}/pay", h.student(true, h.resume))
	mux.HandleFunc("POST /s/{school}/orders/{order_no}/cancel", h.student(true, h.cancel))
	mux.HandleFunc("GET /s/{school}/orders/{order_no}/receipt", h.student(true, h.receiptPage))
	mux.HandleFunc("GET /s/{school}/orders/{order_no}/receipt.pdf", h.student(true, h.receiptPDF))
	mux.HandleFunc("POST /s/{school}/notices/{id}/dismiss", h.student(true, h.dismissNotice))
	mux.HandleFunc("/s/{school}/", h.notFound)
	mux.HandleFunc("/", h.notFound)
	// The first line against cross-site requests: a browser's
	// cross-origin POST is refused before any handler runs, except the
	// channel return, which the gateway posts from its own site (its
	// signed fields are verified instead). Tokens bound to the session
	// (or, for the login form, keyed by the server) are the second.
	cop := http.NewCrossOriginProtection()
	cop.AddInsecureBypassPattern("POST /s/{school}/return/{channel}")
	cop.SetDenyHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.renderError(w, r, http.StatusForbidden, "请求来源不明，请回到缴费页面重新操作", "")
	}))
	return securityHeaders(cop.Handler(mux))
}

// securityHeaders sets the headers every portal response carries; a page
// may widen form-action (the UnionPay gateway) through formActionOrigin.
func securityHeaders(next http.Handler) http.Handler { return pagesec.Headers(cspBase, false, next) }

// allowFormAction lets the page's forms post to another origin (the real
// UnionPay gateway); same-origin targets need nothing.
func allowFormAction(w http.ResponseWriter, target string) {
	pagesec.AllowFormAction(w, cspBase, target)
}

// payCache remembers how each order is paid on each kind of device (a
// WeChat code_url, UnionPay's signed form), so that the page a POST
// redirects to, the QR image and the waiting page do not ask the channel
// again. It is only a cache: a miss asks the channel (Resume).
type payCache struct {
	mu sync.Mutex
	m  map[string]payment.PayInstruction
}

func payKey(orderNo string, d payment.Device) string { return orderNo + "/" + strconv.Itoa(int(d)) }

func (c *payCache) get(orderNo string, d payment.Device) (payment.PayInstruction, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	pay, ok := c.m[payKey(orderNo, d)]
	return pay, ok
}

func (c *payCache) put(orderNo string, d payment.Device, pay payment.PayInstruction) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.m) > 10000 {
		c.m = map[string]payment.PayInstruction{}
	}
	c.m[payKey(orderNo, d)] = pay
}

// codeURL is an order's cached WeChat code_url, or "".
func (c *payCache) codeURL(orderNo string) string {
	if pay, ok := c.get(orderNo, payment.Desktop); ok && pay.Type == payment.PayQR {
		return pay.CodeURL
	}
	return ""
}

// schoolPath is the path of a page of a school's portal.
func schoolPath(code string, parts ...string) string {
	return "/s/" + url.PathEscape(code) + "/" + strings.Join(parts, "/")
}

var beijing = time.FixedZone("CST", 8*3600)

func fmtTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.In(beijing).Format("2006-01-02 15:04")
}

// fmtClock is a time of today as a student reads it ("15:04"), with the
// date when it is another day.
func fmtClock(t, now time.Time) string {
	if t.IsZero() {
		return ""
	}
	t, now = t.In(beijing), now.In(beijing)
	if t.Year() == now.Year() && t.YearDay() == now.YearDay() {
		return t.Format("15:04")
	}
	return t.Format("1月2日 15:04")
}
