// Package receipts issues the receipts (缴费凭证) of paid orders and
// verifies them: it fills a receipt.Receipt from the order as it is now
// (a refund shows), renders the printable page every front door shows a
// student and the PDF they download, and serves the public verification
// page that a receipt's QR code opens, which confirms the order, amount,
// date and school and shows of the student only a masked name.
//
// A verification code is receipt.Code: an HMAC under the deployment's
// receipt key of the order number, amount and payment time, so it can be
// neither guessed nor enumerated; the public page is throttled per client
// and refuses a wrong or altered code as it refuses an unknown order.
package receipts

import (
	"context"
	"crypto/rand"
	"errors"
	"log/slog"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"time"

	"campuspay/internal/apperr"
	"campuspay/internal/billing"
	"campuspay/internal/money"
	"campuspay/internal/payment"
	"campuspay/internal/receipt"
	"campuspay/internal/throttle"
)

// VerifyPath is where the public verification page is served.
const VerifyPath = "/receipts/verify"

// KeyName names the receipt key among the platform's stored keys.
const KeyName = "receipt"

// Stable error codes.
const (
	CodeNotAvailable = "receipt_not_available"
	CodeNotVerified  = "receipt_not_verified"
)

var (
	errOrderNotFound = apperr.New(apperr.NotFound, payment.CodeOrderNotFound, "订单不存在")
	errNotAvailable  = apperr.New(apperr.Conflict, CodeNotAvailable, "该订单尚未支付成功，没有缴费凭证")
	// ErrNotVerified answers a wrong or altered code and an unknown order
	// alike, so that the page tells nothing of which orders exist.
	ErrNotVerified = apperr.New(apperr.NotFound, CodeNotVerified, "未能核验：凭证号（订单号）或验证码不正确")
)

// Store is what receipts read.
type Store interface {
	Order(ctx context.Context, orderNo string) (payment.Order, error)
	StudentByID(ctx context.Context, id int64) (billing.Student, error)
	SchoolByID(ctx context.Context, id int64) (billing.School, error)
	// PlatformKey returns the key stored under name, storing fresh first
	// when there is none (every server of a deployment gets the same).
	PlatformKey(ctx context.Context, name string, fresh []byte) ([]byte, error)
}

// Config holds the service's settings; zero fields take defaults.
type Config struct {
	// PublicURL is how people reach the platform (the verification link
	// is PublicURL + VerifyPath + ?no=…&code=…).
	PublicURL string
	// PlatformName heads every receipt.
	PlatformName string
	// ChannelLabel names the channel that took the money (its adapter's
	// label); nil prints the name.
	ChannelLabel func(name string) string
	// Key is the HMAC key of verification codes, at least 16 bytes; empty
	// takes the key stored in the database (made on first start). A
	// changed key makes every receipt printed before fail verification.
	Key []byte
	// Rate limits the public page per client: default 30 at once, then
	// one every 2 s.
	Rate throttle.RateConfig
	// Failures limits wrong codes per client: default 10 at once, then
	// one a minute.
	Failures throttle.RateConfig
	// PDFs limits a student's PDF downloads (each costs ~20 ms of CPU):
	// default 10 at once, then one every 6 s.
	PDFs throttle.RateConfig
	// TrustedProxies are the reverse proxies whose X-Forwarded-For names
	// the client.
	TrustedProxies []netip.Prefix
	Now            func() time.Time
	Log            *slog.Logger
}

// Service issues and verifies receipts.
type Service struct {
	st       Store
	cfg      Config
	key      []byte
	rate     *throttle.Rate
	failures *throttle.Rate
	pdfs     *throttle.Rate
}

// New wires a Service, reading (or making) the stored key when cfg has none.
func New(ctx context.Context, st Store, cfg Config) (*Service, error) {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	if cfg.PlatformName == "" {
		cfg.PlatformName = "校园缴费平台"
	}
	cfg.PublicURL = strings.TrimRight(cfg.PublicURL, "/")
	key := cfg.Key
	if len(key) == 0 {
		fresh := make([]byte, 32)
		if _, err := rand.Read(fresh); err != nil {
			return nil, err
		}
		k, err := st.PlatformKey(ctx, KeyName, fresh)
		if err != nil {
			return nil, err
		}
		key = k
	}
	if len(key) < 16 {
		return nil, errors.New("receipts: the receipt key must be at least 16 bytes")
	}
	clock := throttle.Clock(cfg.Now)
	rc, fc, pc := cfg.Rate, cfg.Failures, cfg.PDFs
	if rc.Burst <= 0 {
		rc.Burst, rc.Every = 30, 2*time.Second
	}
	if fc.Burst <= 0 {
		fc.Burst, fc.Every = 10, time.Minute
	}
	if pc.Burst <= 0 {
		pc.Burst, pc.Every = 10, 6*time.Second
	}
	rc.Now, fc.Now, pc.Now = clock, clock, clock
	return &Service{st: st, cfg: cfg, key: key, rate: throttle.NewRate(rc), failures: throttle.NewRate(fc), pdfs: throttle.NewRate(pc)}, nil
}

// Issued reports whether an order has a receipt: it was paid (and may
// since have been refunded).
func Issued(o payment.Order) bool {
	switch o.Status {
	case payment.StatusPaid, payment.StatusPartiallyRefunded, payment.StatusRefunded:
		return !o.PaidAt.IsZero()
	}
	return false
}

// refunded is what has been refunded of o so far, never more than it took.
func refunded(o payment.Order) money.Fen {
	r := o.Refunded
	if o.Status == payment.StatusRefunded && r == 0 {
		r = o.Amount
	}
	return min(max(r, 0), o.Amount)
}

// Code is the verification code of a paid order.
func (s *Service) Code(o payment.Order) string {
	return receipt.Code(s.key, o.OrderNo, o.Amount, o.PaidAt)
}

// VerifyURL is the link a receipt's QR code opens.
func (s *Service) VerifyURL(orderNo, code string) string {
	q := url.Values{"no": {orderNo}, "code": {code}}
	return s.cfg.PublicURL + VerifyPath + "?" + q.Encode()
}

// ForStudent is the receipt of one of a student's paid orders as it is
// now: another student's order, or one that does not exist, is
// order_not_found alike; an order not paid is receipt_not_available.
func (s *Service) ForStudent(ctx context.Context, studentID int64, orderNo string) (receipt.Receipt, error) {
	if !payment.ValidOrderNo(orderNo) {
		return receipt.Receipt{}, errOrderNotFound
	}
	o, err := s.st.Order(ctx, orderNo)
	if err != nil {
		if payment.IsNotFound(err) {
			return receipt.Receipt{}, errOrderNotFound
		}
		return receipt.Receipt{}, err
	}
	if o.StudentID != studentID {
		return receipt.Receipt{}, errOrderNotFound
	}
	if !Issued(o) {
		return receipt.Receipt{}, errNotAvailable
	}
	st, err := s.st.StudentByID(ctx, o.StudentID)
	if err != nil {
		return receipt.Receipt{}, err
	}
	sc, err := s.st.SchoolByID(ctx, o.SchoolID)
	if err != nil {
		return receipt.Receipt{}, err
	}
	return s.build(o, st, sc), nil
}

// ForStudentPDF is ForStudent for a PDF download, throttled per student:
// making a PDF costs far more than a page.
func (s *Service) ForStudentPDF(ctx context.Context, studentID int64, orderNo string) (receipt.Receipt, error) {
	if d := s.pdfs.Allow(strconv.FormatInt(studentID, 10)); !d.Allowed {
		return receipt.Receipt{}, apperr.New(apperr.TooMany, apperr.CodeTooManyRequests, "下载过于频繁，请稍后再试").
			With("retry_after_seconds", d.RetryAfterSeconds())
	}
	return s.ForStudent(ctx, studentID, orderNo)
}

func (s *Service) build(o payment.Order, st billing.Student, sc billing.School) receipt.Receipt {
	r := receipt.Receipt{
		PlatformName: s.cfg.PlatformName, SchoolName: sc.Name, ReceiptNo: receipt.Number(o.OrderNo), OrderNo: o.OrderNo,
		StudentNo: st.StudentNo, StudentName: st.Name, Grade: st.Grade, Major: st.Major, Class: st.Class,
		Total: o.Amount, Channel: s.channelLabel(o.Channel), MaskedCard: o.MaskedCard, PaidAt: o.PaidAt, Refunded: refunded(o),
	}
	if r.MaskedCard != "" && !strings.Contains(r.MaskedCard, "*") {
		r.MaskedCard = billing.MaskCard(r.MaskedCard)
	}
	for _, l := range o.Lines {
		r.Items = append(r.Items, receipt.Item{Project: l.ProjectName, Name: l.ItemName, Amount: l.Amount})
	}
	r.VerifyCode = s.Code(o)
	r.VerifyURL = s.VerifyURL(o.OrderNo, r.VerifyCode)
	return r
}

// Checked is a receipt the public page confirmed: only what Verification
// shows, and the order's status now.
type Checked struct {
	receipt.Verification
	Status payment.Status
}

// Verify checks a verification code against the order (no: the order
// number or the receipt number), throttled per client: a wrong or altered
// code and an unknown order are ErrNotVerified alike.
func (s *Service) Verify(ctx context.Context, client netip.Addr, no, code string) (Checked, error) {
	key := throttle.ClientKey(client)
	if d := s.failures.Peek(key); !d.Allowed {
		return Checked{}, tooMany(d)
	}
	if d := s.rate.Allow(key); !d.Allowed {
		return Checked{}, tooMany(d)
	}
	orderNo := OrderNoOf(no)
	var o payment.Order
	var err error
	if payment.ValidOrderNo(orderNo) {
		o, err = s.st.Order(ctx, orderNo)
	} else {
		err = errOrderNotFound
	}
	if err != nil && !payment.IsNotFound(err) {
		return Checked{}, err
	}
	if err != nil || !Issued(o) {
		// The same work as a real check, so that time tells nothing.
		receipt.CheckCode(s.key, orderNo, 0, time.Unix(0, 0), code)
		s.failures.Add(key)
		return Checked{}, ErrNotVerified
	}
	if !receipt.CheckCode(s.key, o.OrderNo, o.Amount, o.PaidAt, code) {
		s.failures.Add(key)
		return Checked{}, ErrNotVerified
	}
	st, err := s.st.StudentByID(ctx, o.StudentID)
	if err != nil {
		return Checked{}, err
	}
	sc, err := s.st.SchoolByID(ctx, o.SchoolID)
	if err != nil {
		return Checked{}, err
	}
	return Checked{Verification: s.build(o, st, sc).Verification(), Status: o.Status}, nil
}

// OrderNoOf is the order number a person typed or a link carries: the
// order number itself or the receipt number (SJ and the order number), in
// any case, with spaces around.
func OrderNoOf(no string) string {
	no = strings.ToUpper(strings.TrimSpace(no))
	if strings.HasPrefix(no, "SJ") {
		no = no[2:]
	}
	return no
}

func tooMany(d throttle.Decision) error {
	secs := d.RetryAfterSeconds()
	return apperr.New(apperr.TooMany, apperr.CodeTooManyRequests, "查询过于频繁，请稍后再试").With("retry_after_seconds", secs)
}

func (s *Service) channelLabel(name string) string {
	if s.cfg.ChannelLabel == nil {
		return name
	}
	return s.cfg.ChannelLabel(name)
}
