package payment

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"strconv"
	"time"

	"campuspay/internal/apperr"
	"campuspay/internal/billing"
	"campuspay/internal/journal"
	"campuspay/internal/throttle"
)

// Stable error codes of the payment service (SPEC §6 and the pages).
const (
	CodeOrderNotFound        = "order_not_found"
	CodeOrderNotPayable      = "order_not_payable"
	CodeOrderNotCancellable  = "order_not_cancellable"
	CodeOrderAlreadyPaid     = "order_already_paid"
	CodeInvalidChannel       = "invalid_channel"
	CodeChannelNotConfigured = "channel_not_configured"
	CodeChannelUnavailable   = "channel_unavailable"
	CodeIdempotencyReused    = "idempotency_key_reused"
	CodeNotificationMismatch = "notification_mismatch"
	CodeNotificationRefused  = "notification_refused"
)

// ErrIdempotencyRace is what the store answers when another request with
// the same Idempotency-Key created its order first.
var ErrIdempotencyRace = errors.New("payment: idempotency key taken by a concurrent request")

var (
	errOrderNotFound = apperr.New(apperr.NotFound, CodeOrderNotFound, "订单不存在")
	errNotPayable    = apperr.New(apperr.Conflict, CodeOrderNotPayable, "该订单已关闭或已支付，无需继续支付")
)

// IsNotFound reports whether err says that what was asked for does not
// exist (and not that it could not be looked up).
func IsNotFound(err error) bool {
	e, ok := apperr.As(err)
	return ok && e.Kind == apperr.NotFound
}

// Config holds the service's settings.
type Config struct {
	PublicURL        string        // base URL the channels reach us on, e.g. http://127.0.0.1:8080
	Merchant         string        // the platform's name as payers see it at the channel
	FirstQuery       time.Duration // first channel query after an order is made
	QueryInterval    time.Duration // growth step between queries
	QueryMaxInterval time.Duration // cap between queries while an order is open
	// OrderBurst orders (creations and cancellations) a student may make at
	// once, then one every OrderEvery: each calls the channel with the
	// school's merchant credentials, so nobody may spend them in a loop.
	OrderBurst int
	OrderEvery time.Duration
	// WaitRecheck is how often WaitOrder reads the order again without a
	// signal (a change made by another server process); default 1 s.
	WaitRecheck time.Duration
	// ApplyLanes is how many groups of successes may be applied at once
	// (default 1): more than one pays on a database that runs write
	// transactions in parallel (PostgreSQL), none on one that runs them
	// one at a time (SQLite).
	ApplyLanes int
	// Busy, when set, is called whenever the service writes a payment
	// change (an order made, paid, failed, closed): the server uses it to
	// keep password hashing from starving payments.
	Busy func()
}

// DefaultConfig queries at 15 s, then every 15–30 s while the order is open,
// so an order whose notification is lost is settled within a minute.
func DefaultConfig(publicURL string) Config {
	return Config{PublicURL: publicURL, Merchant: "校园缴费平台", FirstQuery: 15 * time.Second, QueryInterval: 15 * time.Second,
		QueryMaxInterval: 30 * time.Second, OrderBurst: 10, OrderEvery: 10 * time.Second}
}

// Service is the payment use cases shared by every front door. It decides
// everything that follows a payment, a failure, a close or an expiry; the
// store only persists what it is told.
type Service struct {
	store    Store
	channels Channels
	cfg      Config
	log      *slog.Logger
	now      func() time.Time
	applier  *applier
	orders   *throttle.Rate // per student: order creations and cancellations
	watch    watchers       // callers waiting for an order to change (WaitOrder)
}

// NewService wires a Service. Close stops its group-commit applier.
func NewService(st Store, ch Channels, cfg Config, log *slog.Logger, now func() time.Time) *Service {
	if now == nil {
		now = time.Now
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if cfg.Merchant == "" {
		cfg.Merchant = DefaultConfig("").Merchant
	}
	if cfg.OrderBurst <= 0 {
		cfg.OrderBurst = 10
	}
	if cfg.OrderEvery <= 0 {
		cfg.OrderEvery = 10 * time.Second
	}
	if cfg.WaitRecheck <= 0 {
		cfg.WaitRecheck = time.Second
	}
	s := &Service{store: st, channels: ch, cfg: cfg, log: log, now: now,
		orders: throttle.NewRate(throttle.RateConfig{Burst: cfg.OrderBurst, Every: cfg.OrderEvery, Now: throttle.Clock(now)})}
	s.applier = newApplier(s, cfg.ApplyLanes)
	return s
}

// throttleOrders spends one of a student's order calls, or says when the
// next may come.
func (s *Service) throttleOrders(studentID int64) error {
	d := s.orders.Allow(strconv.FormatInt(studentID, 10))
	if d.Allowed {
		return nil
	}
	secs := d.RetryAfterSeconds()
	return apperr.New(apperr.TooMany, apperr.CodeTooManyRequests, fmt.Sprintf("操作过于频繁，请 %d 秒后再试", secs)).
		With("retry_after_seconds", secs)
}

// Close waits for the payments being applied and stops taking new ones.
func (s *Service) Close() { s.applier.close() }

// Config returns the settings.
func (s *Service) Config() Config { return s.cfg }

// Now is the service's clock.
func (s *Service) Now() time.Time { return s.now() }

// Methods lists the ways a school's students can pay, in display order.
func (s *Service) Methods(school billing.School) []ChannelInfo {
	var out []ChannelInfo
	for _, name := range s.channels.Names() {
		if !school.Policy.ChannelEnabled(name) {
			continue
		}
		if ch, err := s.channels.For(school.ID, name); err == nil {
			out = append(out, ch.Info())
		}
	}
	return out
}

// linesAndHolds reads what a student owes and what open orders hold.
func (s *Service) linesAndHolds(ctx context.Context, studentID int64) ([]billing.Line, []billing.Hold, error) {
	return s.store.LinesAndHolds(ctx, studentID)
}

// Board is a student's fee board now (billing.BuildBoard), for pages and the API.
func (s *Service) Board(ctx context.Context, studentID int64, p billing.Policy) (billing.Board, error) {
	lines, holds, err := s.linesAndHolds(ctx, studentID)
	if err != nil {
		return billing.Board{}, err
	}
	return billing.BuildBoard(lines, holds, p, s.now()), nil
}

// Preview decides a selection under R7–R9 without holding anything: what
// a checkout page shows before the student picks a channel.
func (s *Service) Preview(ctx context.Context, studentID int64, p billing.Policy, lineIDs []int64) (billing.Decision, error) {
	lines, holds, err := s.linesAndHolds(ctx, studentID)
	if err != nil {
		return billing.Decision{}, err
	}
	return billing.Decide(lines, holds, p, s.now(), lineIDs)
}

// StudentOrder is one of a student's orders; another student's, or one
// that does not exist, is order_not_found alike.
func (s *Service) StudentOrder(ctx context.Context, studentID int64, orderNo string) (Order, error) {
	if !ValidOrderNo(orderNo) {
		return Order{}, errOrderNotFound
	}
	o, err := s.store.Order(ctx, orderNo)
	if err != nil {
		if IsNotFound(err) {
			return Order{}, errOrderNotFound
		}
		return Order{}, err
	}
	if o.StudentID != studentID {
		return Order{}, errOrderNotFound
	}
	return o, nil
}

// StudentOrders lists a student's orders, newest first.
func (s *Service) StudentOrders(ctx context.Context, studentID int64) ([]Order, error) {
	return s.store.Orders(ctx, studentID)
}

// StudentLines lists a student's bill lines in board order.
func (s *Service) StudentLines(ctx context.Context, studentID int64) ([]billing.Line, error) {
	return s.store.Lines(ctx, studentID)
}

// Checkout is a new or resumed order and how to pay it.
type Checkout struct {
	Order Order
	Pay   PayInstruction
	// Replayed: the Idempotency-Key made this order before.
	Replayed bool
}

// CreateRequest is a student's request to pay chosen lines.
type CreateRequest struct {
	School      billing.School
	Student     billing.Student
	LineIDs     []int64
	Channel     string
	Device      Device
	ClientIP    string
	PostBackURL string                      // see PayRequest
	ReturnURL   func(orderNo string) string // see PayRequest; nil for none
	// Idempotency, when set, makes a retried request answer the order the
	// first one made (SPEC §6).
	Idempotency *IdempotencyKey
}

func (s *Service) channelFor(school billing.School, name string) (Channel, error) {
	known := false
	for _, n := range s.channels.Names() {
		known = known || n == name
	}
	if !known {
		return nil, apperr.New(apperr.Invalid, CodeInvalidChannel, "请选择支付方式")
	}
	if !school.Policy.ChannelEnabled(name) {
		return nil, apperr.New(apperr.Invalid, billing.CodeChannelDisabled, "本校未开通该支付方式")
	}
	ch, err := s.channels.For(school.ID, name)
	if err != nil {
		return nil, apperr.New(apperr.Invalid, CodeChannelNotConfigured, "本校未开通该支付方式").Wrap(err)
	}
	return ch, nil
}

// Create makes an order for the chosen lines (the rules decide, inside the
// transaction that holds them) and asks the channel how to pay it.
func (s *Service) Create(ctx context.Context, req CreateRequest) (Checkout, error) {
	ch, err := s.channelFor(req.School, req.Channel)
	if err != nil {
		return Checkout{}, err
	}
	// A request whose Idempotency-Key was used before is answered from
	// the transaction's failure below (its lines are held or paid, or the
	// key is taken), so the usual new key costs no read of its own; the
	// order call it spent is given back. A retry refused by the throttle
	// still gets its order.
	if err := s.throttleOrders(req.Student.ID); err != nil {
		if k := req.Idempotency; k != nil {
			if co, ok, rerr := s.replay(ctx, req, k); ok || rerr != nil {
				return co, rerr
			}
		}
		return Checkout{}, err
	}
	offline := ch.Capabilities().PrepareOffline
	var o Order
	err = s.update(ctx, func(tx Tx) error {
		lines, holds, err := tx.LockStudent(ctx, req.Student.ID)
		if err != nil {
			return err
		}
		now := tx.Now()
		holds, err = s.releaseExpired(ctx, tx, holds, now)
		if err != nil {
			return err
		}
		d, err := billing.Decide(lines, holds, req.School.Policy, now, req.LineIDs)
		if err != nil {
			return err
		}
		o = Order{OrderNo: NewOrderNo(now), SchoolID: req.Student.SchoolID, StudentID: req.Student.ID, Channel: req.Channel,
			Amount: d.Amount, Status: StatusCreated, Mobile: req.Device == Phone, CreatedAt: now,
			ExpiresAt: now.Add(req.School.Policy.LockDuration())}
		if offline {
			o.Status = StatusPaying
		}
		for _, l := range d.Lines {
			o.Lines = append(o.Lines, OrderLine{LineID: l.ID, ProjectName: l.ProjectName, ItemName: l.ItemName, Amount: l.Unpaid()})
		}
		if err := tx.InsertOrder(ctx, &o, req.Idempotency); err != nil {
			return err
		}
		tx.EnqueueAll([]ScheduledJob{{JobExpire, o.OrderNo, o.ExpiresAt}, {JobQuery, o.OrderNo, now.Add(s.cfg.FirstQuery)}})
		return nil
	})
	if err != nil && req.Idempotency != nil {
		// The key may have made an order before, or a concurrent retry
		// with it meanwhile (its lines are then held or paid, or its key
		// taken): answer with that order.
		if co, ok, rerr := s.replay(ctx, req, req.Idempotency); ok || rerr != nil {
			if ok {
				s.orders.Refund(strconv.FormatInt(req.Student.ID, 10)) // a retry is not a new order call
			}
			return co, rerr
		}
	}
	if err != nil {
		return Checkout{}, err
	}
	pay, err := ch.Prepare(ctx, s.payRequest(o, req))
	if err != nil {
		s.log.Error("channel prepare failed", "order_no", o.OrderNo, "channel", o.Channel, "err", err)
		f := Failure{Code: FailChannel, Message: explanations[FailChannel].title}
		if cerr := s.closeOrder(context.WithoutCancel(ctx), o.OrderNo, "channel prepare failed", &f, false); cerr != nil {
			s.log.Error("close after prepare failure", "order_no", o.OrderNo, "err", cerr)
		}
		return Checkout{}, apperr.New(apperr.BadGateway, CodeChannelUnavailable, "支付渠道暂时不可用，请稍后再试").Wrap(err)
	}
	// The channel now knows the order: record it even if the client has gone.
	if !offline {
		if err := s.markPaying(context.WithoutCancel(ctx), o.OrderNo); err != nil {
			return Checkout{}, err
		}
		o.Status = StatusPaying
	}
	return Checkout{Order: o, Pay: pay}, nil
}

// replay answers a request whose Idempotency-Key was used before: the same
// order again when the request is the same, idempotency_key_reused when
// it is not.
func (s *Service) replay(ctx context.Context, req CreateRequest, k *IdempotencyKey) (Checkout, bool, error) {
	no, hash, err := s.store.IdempotentOrder(ctx, k.StudentID, k.Key)
	if IsNotFound(err) {
		return Checkout{}, false, nil
	}
	if err != nil {
		return Checkout{}, false, err
	}
	if hash != k.RequestHash {
		return Checkout{}, true, apperr.New(apperr.Invalid, CodeIdempotencyReused, "该 Idempotency-Key 已用于另一个请求，请换一个新的 Idempotency-Key")
	}
	o, err := s.store.Order(ctx, no)
	if err != nil {
		return Checkout{}, true, err
	}
	co := Checkout{Order: o, Replayed: true}
	if o.Status.Open() && s.now().Before(o.ExpiresAt) {
		if co.Pay, err = s.Resume(ctx, o, ResumeRequest{ClientIP: req.ClientIP, Device: req.Device, PostBackURL: req.PostBackURL, ReturnURL: req.ReturnURL}); err != nil {
			return Checkout{}, true, err
		}
		co.Order.Status = StatusPaying
	}
	return co, true, nil
}

// releaseExpired closes the orders whose hold on the student's lines has
// ended, so their lines can be chosen again (R9), and returns the holds
// still in force.
func (s *Service) releaseExpired(ctx context.Context, tx Tx, holds []billing.Hold, now time.Time) ([]billing.Hold, error) {
	var live []billing.Hold
	closed := map[string]bool{}
	for _, h := range holds {
		if h.Active(now) {
			live = append(live, h)
			continue
		}
		if closed[h.OrderNo] {
			continue
		}
		closed[h.OrderNo] = true
		o, err := tx.LockOrder(ctx, h.OrderNo)
		if err != nil {
			return nil, err
		}
		s.closeIn(tx, o, "expired: hold ended", &Failure{Code: FailExpired, Message: explanations[FailExpired].title}, false)
	}
	return live, nil
}

func (s *Service) payRequest(o Order, req CreateRequest) PayRequest {
	r := s.resumeRequest(o, ResumeRequest{ClientIP: req.ClientIP, Device: req.Device, PostBackURL: req.PostBackURL, ReturnURL: req.ReturnURL})
	return r
}

// ResumeRequest is how a student's client wants to pay an open order again.
type ResumeRequest struct {
	ClientIP    string
	Device      Device
	PostBackURL string
	ReturnURL   func(orderNo string) string
}

func (s *Service) resumeRequest(o Order, req ResumeRequest) PayRequest {
	r := PayRequest{OrderNo: o.OrderNo, Amount: o.Amount, Description: o.Description(), Merchant: s.cfg.Merchant,
		CreatedAt: o.CreatedAt, ExpiresAt: o.ExpiresAt, ClientIP: req.ClientIP, Device: req.Device,
		PostBackURL: req.PostBackURL, NotifyURL: s.cfg.PublicURL + "/notify/" + o.Channel}
	if req.ReturnURL != nil {
		r.ReturnURL = req.ReturnURL(o.OrderNo)
	}
	return r
}

// Resume returns how to pay an open order again (the same order: UnionPay's
// form is re-signed with the same txnTime, WeChat returns the same code_url).
func (s *Service) Resume(ctx context.Context, o Order, req ResumeRequest) (PayInstruction, error) {
	if !o.Status.Open() || !s.now().Before(o.ExpiresAt) {
		return PayInstruction{}, errNotPayable
	}
	ch, err := s.channels.For(o.SchoolID, o.Channel)
	if err != nil {
		return PayInstruction{}, err
	}
	pay, err := ch.Prepare(ctx, s.resumeRequest(o, req))
	if err != nil {
		return PayInstruction{}, apperr.New(apperr.BadGateway, CodeChannelUnavailable, "支付渠道暂时不可用，请稍后再试").Wrap(err)
	}
	if o.Status == StatusCreated {
		if err := s.markPaying(context.WithoutCancel(ctx), o.OrderNo); err != nil {
			return PayInstruction{}, err
		}
	}
	return pay, nil
}

// markPaying records that the channel was asked to take the payment.
func (s *Service) markPaying(ctx context.Context, orderNo string) error {
	return s.update(ctx, func(tx Tx) error {
		o, err := tx.LockOrder(ctx, orderNo)
		if err != nil {
			return err
		}
		if o.Status == StatusCreated {
			tx.SetStatus(o, StatusPaying, "channel prepared", OrderChange{})
		}
		return nil
	})
}

// Cancel closes a student's open order: first at the channel where it can
// be closed, and only after asking the channel whether it was paid, so that
// a payment in flight is applied rather than turned into an overpayment.
func (s *Service) Cancel(ctx context.Context, studentID int64, orderNo string) (Order, error) {
	o, err := s.StudentOrder(ctx, studentID, orderNo)
	if err != nil {
		return Order{}, err
	}
	if !o.Status.Open() {
		if o.Status == StatusClosed {
			return o, nil
		}
		return o, apperr.New(apperr.Conflict, CodeOrderNotCancellable, "订单已支付，不能取消")
	}
	if err := s.throttleOrders(studentID); err != nil {
		return o, err
	}
	ch, err := s.channels.For(o.SchoolID, o.Channel)
	if err != nil {
		return o, err
	}
	alreadyPaid := func() (Order, error) {
		o, _ := s.store.Order(ctx, orderNo)
		return o, apperr.New(apperr.Conflict, CodeOrderAlreadyPaid, "该订单已支付成功，不能取消")
	}
	if paid, err := s.settleIfPaid(ctx, ch, o); err != nil {
		return o, err
	} else if paid {
		return alreadyPaid()
	}
	if ch.Capabilities().Close {
		if err := ch.Close(ctx, o.OrderNo); err != nil {
			// It may have been paid between the query and the close.
			if paid, qerr := s.settleIfPaid(ctx, ch, o); qerr == nil && paid {
				return alreadyPaid()
			}
			return o, apperr.New(apperr.BadGateway, CodeChannelUnavailable, "暂时无法取消订单，请稍后再试").Wrap(err)
		}
	}
	if err := s.closeOrder(ctx, o.OrderNo, "cancelled by student", nil, true); err != nil {
		return o, err
	}
	return s.store.Order(ctx, orderNo)
}

// closeOrder closes an open order in a transaction of its own; atChannel
// says the channel already knows it closed (or cannot close it).
func (s *Service) closeOrder(ctx context.Context, orderNo, cause string, f *Failure, atChannel bool) error {
	return s.update(ctx, func(tx Tx) error {
		o, err := tx.LockOrder(ctx, orderNo)
		if err != nil {
			return err
		}
		s.closeIn(tx, o, cause, f, atChannel)
		return nil
	})
}

// closeIn is every consequence of closing an open order: the status and
// its cause, the failure the student is shown, the lines freed, its
// expiry done, and a close at the channel queued when the channel can
// close and does not know yet (so a late scan cannot pay it). Queries
// go on: a channel that cannot close may still report a payment.
func (s *Service) closeIn(tx Tx, o Order, cause string, f *Failure, atChannel bool) bool {
	if !o.Status.Open() {
		return false
	}
	ch := OrderChange{ClosedAt: tx.Now(), Failure: f}
	if f == nil && o.FailureCode != "" {
		ch.Failure = &Failure{} // a cancel clears an earlier refusal
	}
	tx.SetStatus(o, StatusClosed, cause, ch)
	tx.ReleaseHolds(o)
	tx.FinishJobs(o.OrderNo, JobExpire)
	if !atChannel && s.capsOf(o).Close {
		tx.Enqueue(JobClose, o.OrderNo, tx.Now())
	}
	return true
}

// capsOf is what the order's channel can do; an adapter that is gone from
// the configuration can do nothing.
func (s *Service) capsOf(o Order) Capabilities {
	ch, err := s.channels.For(o.SchoolID, o.Channel)
	if err != nil {
		return Capabilities{}
	}
	return ch.Capabilities()
}

// settleIfPaid queries the channel and applies a success; it reports
// whether the order was paid at the channel.
func (s *Service) settleIfPaid(ctx context.Context, ch Channel, o Order) (bool, error) {
	r, err := ch.Query(ctx, QueryRequest{OrderNo: o.OrderNo, CreatedAt: o.CreatedAt})
	if err != nil {
		return false, apperr.New(apperr.BadGateway, CodeChannelUnavailable, "暂时无法确认支付结果，请稍后再试").Wrap(err)
	}
	if r.Status != TxnSuccess {
		return false, nil
	}
	r.Channel = o.Channel
	if _, err := s.ApplySuccess(ctx, r, "query", ""); err != nil {
		return false, err
	}
	return true, nil
}

// The failure an order closed by its hold's end shows the student.
func expiredFailure() *Failure {
	return &Failure{Code: FailExpired, Message: explanations[FailExpired].title}
}

// failureOf is a failed result as recorded on the order.
func failureOf(r Result) Failure {
	code := r.Failure
	if code == "" {
		code = FailPayment
	}
	return Failure{Code: code, ChannelCode: r.RespCode, Message: r.RespMsg, Limit: r.Limit}
}

// recordFailure notes the channel's refusal r as an attempt on the order
// (once, however often the channel tells it) and, on an open order, as
// its latest failure without closing it: the payer may still try another
// card before the hold ends.
func (s *Service) recordFailure(ctx context.Context, orderNo string, r Result) error {
	return s.update(ctx, func(tx Tx) error {
		o, err := tx.LockOrder(ctx, orderNo)
		if err != nil {
			return err
		}
		tx.RecordAttempt(attemptOf(o, r, tx.Now()))
		if o.Status.Open() {
			tx.SetFailure(o, failureOf(r))
		}
		return nil
	})
}

// NextQuery is when to ask the channel again about an open order after
// attempts queries: growing by QueryInterval, capped, with ±10% jitter.
func (s *Service) NextQuery(attempts int) time.Time {
	d := time.Duration(attempts) * s.cfg.QueryInterval
	if d > s.cfg.QueryMaxInterval {
		d = s.cfg.QueryMaxInterval
	}
	if d <= 0 {
		d = time.Second
	}
	jitter := time.Duration(rand.Int64N(int64(d)/5+1)) - d/10
	return s.now().Add(d + jitter)
}

// clearingOf is the account of money the channel holds for the school.
func clearingOf(o Order) string { return journal.Clearing(o.Channel, o.SchoolID) }

func causef(format string, args ...any) string { return fmt.Sprintf(format, args...) }
