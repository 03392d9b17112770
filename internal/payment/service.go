package payment

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"time"

	"campuspay/internal/apperr"
	"campuspay/internal/billing"
)

// NewOrder is a request to hold lines in a new order.
type NewOrder struct {
	OrderNo    string
	Student    billing.Student
	Policy     billing.Policy
	LineIDs    []int64
	Channel    string
	Mobile     bool
	FirstQuery time.Duration // when to first ask the channel
}

// Outcome is what applying a success did.
type Outcome struct {
	Order       Order
	Disposition Disposition
	Replay      bool   // the same channel transaction was already recorded
	RefundNo    string // a refund started at once (non-debit card)
}

// Event is one recorded transition.
type Event struct {
	From, To Status
	Cause    string
	At       time.Time
}

// Store is what the service needs from the database; every method is one
// transaction.
type Store interface {
	CreateOrder(ctx context.Context, in NewOrder) (Order, error)
	MarkPaying(ctx context.Context, orderNo string) error
	CloseOrder(ctx context.Context, orderNo, cause, failCode, failMsg string) (Order, bool, error)
	RecordFailure(ctx context.Context, orderNo string, f Failure) error
	Lines(ctx context.Context, studentID int64) ([]billing.Line, error)
	Holds(ctx context.Context, studentID int64) ([]billing.Hold, error)
	ApplySuccess(ctx context.Context, r Result, source string) (Outcome, error)
	Order(ctx context.Context, orderNo string) (Order, error)
	OrderSchool(ctx context.Context, orderNo string) (int64, error)
	FinishRefund(ctx context.Context, refundNo string, rr RefundResult) error
}

// Channels finds the adapter for a school's merchant on a channel.
type Channels interface {
	For(schoolID int64, channel string) (Channel, error)
	// All lists every configured adapter of a channel, to verify
	// notifications that do not say which school they are for.
	All(channel string) []Channel
}

// Config holds the service's settings.
type Config struct {
	PublicURL        string        // base URL the channels reach us on, e.g. http://127.0.0.1:8080
	FirstQuery       time.Duration // first channel query after an order is made
	QueryInterval    time.Duration // growth step between queries
	QueryMaxInterval time.Duration // cap between queries while an order is open
}

// DefaultConfig queries at 15 s, then every 15–30 s while the order is open,
// so an order whose notification is lost is settled within a minute.
func DefaultConfig(publicURL string) Config {
	return Config{PublicURL: publicURL, FirstQuery: 15 * time.Second, QueryInterval: 15 * time.Second, QueryMaxInterval: 30 * time.Second}
}

// Service is the payment use cases shared by every front door.
type Service struct {
	store    Store
	channels Channels
	cfg      Config
	log      *slog.Logger
	now      func() time.Time
}

// NewService wires a Service.
func NewService(st Store, ch Channels, cfg Config, log *slog.Logger, now func() time.Time) *Service {
	if now == nil {
		now = time.Now
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Service{store: st, channels: ch, cfg: cfg, log: log, now: now}
}

// Config returns the settings.
func (s *Service) Config() Config { return s.cfg }

// linesAndHolds reads what a student owes and what open orders hold.
func (s *Service) linesAndHolds(ctx context.Context, studentID int64) ([]billing.Line, []billing.Hold, error) {
	lines, err := s.store.Lines(ctx, studentID)
	if err != nil {
		return nil, nil, err
	}
	holds, err := s.store.Holds(ctx, studentID)
	return lines, holds, err
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

// Checkout is a new or resumed order and how to pay it.
type Checkout struct {
	Order Order
	Pay   PayInstruction
}

// Create makes an order for the chosen lines (the rules decide) and asks
// the channel how to pay it.
func (s *Service) Create(ctx context.Context, school billing.School, st billing.Student, lineIDs []int64, channel string, mobile bool, clientIP, frontURL string) (Checkout, error) {
	if channel != UnionPay && channel != WeChat {
		return Checkout{}, apperr.New(apperr.Invalid, "invalid_channel", "请选择支付方式：银联在线或微信支付")
	}
	if !school.Policy.ChannelEnabled(channel) {
		return Checkout{}, apperr.New(apperr.Invalid, billing.CodeChannelDisabled, "本校未开通该支付方式")
	}
	ch, err := s.channels.For(school.ID, channel)
	if err != nil {
		return Checkout{}, err
	}
	o, err := s.store.CreateOrder(ctx, NewOrder{OrderNo: NewOrderNo(s.now()), Student: st, Policy: school.Policy,
		LineIDs: lineIDs, Channel: channel, Mobile: mobile, FirstQuery: s.cfg.FirstQuery})
	if err != nil {
		return Checkout{}, err
	}
	pay, err := ch.Prepare(ctx, s.payRequest(o, clientIP, frontURL))
	if err != nil {
		s.log.Error("channel prepare failed", "order_no", o.OrderNo, "channel", channel, "err", err)
		if _, _, cerr := s.store.CloseOrder(ctx, o.OrderNo, "channel prepare failed", FailChannel, "支付渠道暂时不可用，请稍后再试"); cerr != nil {
			s.log.Error("close after prepare failure", "order_no", o.OrderNo, "err", cerr)
		}
		return Checkout{}, apperr.New(apperr.BadGateway, "channel_unavailable", "支付渠道暂时不可用，请稍后再试").Wrap(err)
	}
	// The channel now knows the order: record it even if the client has gone.
	if err := s.store.MarkPaying(context.WithoutCancel(ctx), o.OrderNo); err != nil {
		return Checkout{}, err
	}
	o.Status = StatusPaying
	return Checkout{Order: o, Pay: pay}, nil
}

func (s *Service) payRequest(o Order, clientIP, frontURL string) PayRequest {
	return PayRequest{OrderNo: o.OrderNo, Amount: o.Amount, Description: o.Description(), CreatedAt: o.CreatedAt,
		ExpiresAt: o.ExpiresAt, ClientIP: clientIP, Mobile: o.Mobile, FrontURL: frontURL,
		NotifyURL: s.cfg.PublicURL + "/notify/" + o.Channel}
}

// Resume returns how to pay an open order again (the same order: UnionPay's
// form is re-signed with the same txnTime, WeChat returns the same code_url).
func (s *Service) Resume(ctx context.Context, o Order, clientIP, frontURL string) (PayInstruction, error) {
	if !o.Status.Open() || !s.now().Before(o.ExpiresAt) {
		return PayInstruction{}, apperr.New(apperr.Conflict, "order_not_payable", "该订单已关闭或已支付，无需继续支付")
	}
	ch, err := s.channels.For(o.SchoolID, o.Channel)
	if err != nil {
		return PayInstruction{}, err
	}
	pay, err := ch.Prepare(ctx, s.payRequest(o, clientIP, frontURL))
	if err != nil {
		return PayInstruction{}, apperr.New(apperr.BadGateway, "channel_unavailable", "支付渠道暂时不可用，请稍后再试").Wrap(err)
	}
	if o.Status == StatusCreated {
		if err := s.store.MarkPaying(context.WithoutCancel(ctx), o.OrderNo); err != nil {
			return PayInstruction{}, err
		}
	}
	return pay, nil
}

// Cancel closes a student's open order: first at the channel where it can
// be closed, and only after asking the channel whether it was paid, so that
// a payment in flight is applied rather than turned into an overpayment.
func (s *Service) Cancel(ctx context.Context, studentID int64, orderNo string) (Order, error) {
	o, err := s.store.Order(ctx, orderNo)
	if err != nil || o.StudentID != studentID {
		return Order{}, apperr.New(apperr.NotFound, "order_not_found", "订单不存在")
	}
	if !o.Status.Open() {
		if o.Status == StatusClosed {
			return o, nil
		}
		return o, apperr.New(apperr.Conflict, "order_not_cancellable", "订单已支付，不能取消")
	}
	ch, err := s.channels.For(o.SchoolID, o.Channel)
	if err != nil {
		return o, err
	}
	if paid, err := s.settleIfPaid(ctx, ch, o); err != nil {
		return o, err
	} else if paid {
		o, _ = s.store.Order(ctx, orderNo)
		return o, apperr.New(apperr.Conflict, "order_already_paid", "该订单已支付成功，不能取消")
	}
	if err := ch.Close(ctx, o.OrderNo); err != nil && !errors.Is(err, ErrCloseUnsupported) {
		// It may have been paid between the query and the close.
		if paid, qerr := s.settleIfPaid(ctx, ch, o); qerr == nil && paid {
			o, _ = s.store.Order(ctx, orderNo)
			return o, apperr.New(apperr.Conflict, "order_already_paid", "该订单已支付成功，不能取消")
		}
		return o, apperr.New(apperr.BadGateway, "channel_unavailable", "暂时无法取消订单，请稍后再试").Wrap(err)
	}
	o, _, err = s.store.CloseOrder(ctx, o.OrderNo, "cancelled by student", "", "")
	return o, err
}

// settleIfPaid queries the channel and applies a success; it reports
// whether the order was paid at the channel.
func (s *Service) settleIfPaid(ctx context.Context, ch Channel, o Order) (bool, error) {
	r, err := ch.Query(ctx, QueryRequest{OrderNo: o.OrderNo, CreatedAt: o.CreatedAt})
	if err != nil {
		return false, apperr.New(apperr.BadGateway, "channel_unavailable", "暂时无法确认支付结果，请稍后再试").Wrap(err)
	}
	if r.Status != TxnSuccess {
		return false, nil
	}
	r.Channel = o.Channel
	if _, err := s.store.ApplySuccess(ctx, r, "query"); err != nil {
		return false, err
	}
	return true, nil
}

// Notification is a channel's HTTP answer to one notification.
type Notification struct {
	Status      int
	ContentType string
	Body        []byte
	Outcome     *Outcome
	Result      Result
}

// HandleNotification verifies a notification against every adapter of the
// channel and applies it. A notification that fails verification changes
// nothing and is answered 4xx; a replay is answered as success (I4).
func (s *Service) HandleNotification(ctx context.Context, channel string, header map[string][]string, body []byte, source string) Notification {
	fail := func(status int, msg string) Notification {
		b := fmt.Appendf(nil, `{"code":"FAIL","message":%q}`, msg)
		return Notification{Status: status, ContentType: "application/json", Body: b}
	}
	var (
		r   Result
		ch  Channel
		err = errors.New("no adapter configured for " + channel)
	)
	for _, c := range s.channels.All(channel) {
		if r, err = c.ParseNotification(ctx, header, body); err == nil {
			ch = c
			break
		}
	}
	if err != nil {
		s.log.Warn("notification refused", "channel", channel, "source", source, "err", err)
		return fail(400, "verification failed")
	}
	r.Channel = channel
	// The merchant that signed must be the one the order's school takes
	// payments with, or the money would land in another school's books.
	// An unknown order is refused below; any other failure to check means
	// the notification is not applied now (the channel retries).
	schoolID, err := s.store.OrderSchool(ctx, r.OrderNo)
	switch {
	case err == nil:
		if own, err := s.channels.For(schoolID, channel); err != nil || own.MerchantID() != r.MerchantID {
			s.log.Warn("notification from another merchant", "channel", channel, "order_no", r.OrderNo, "merchant", r.MerchantID)
			return fail(400, "merchant mismatch")
		}
	case !gone(err):
		s.log.Error("notification: look up order", "channel", channel, "order_no", r.OrderNo, "err", err)
		return fail(500, "retry later")
	}
	status, ctype, ack := ch.NotificationAck()
	n := Notification{Status: status, ContentType: ctype, Body: ack, Result: r}
	switch r.Status {
	case TxnSuccess:
		out, err := s.store.ApplySuccess(ctx, r, source)
		if err != nil {
			if e, ok := apperr.As(err); ok && (e.Kind == apperr.Invalid || e.Kind == apperr.NotFound) {
				s.log.Warn("notification does not match its order", "channel", channel, "order_no", r.OrderNo, "err", err)
				return fail(400, e.Code)
			}
			s.log.Error("apply notification", "channel", channel, "order_no", r.OrderNo, "err", err)
			return fail(500, "retry later")
		}
		n.Outcome = &out
		s.log.Info("payment notification", "channel", channel, "order_no", r.OrderNo, "disposition", out.Disposition, "replay", out.Replay)
	case TxnFailed:
		if err := s.store.RecordFailure(ctx, r.OrderNo, failureOf(r)); err != nil && apperr.CodeOf(err) != "not_found" {
			return fail(500, "retry later")
		}
	}
	return n
}

// Settle asks the channel about an open order and applies the answer. It
// reports whether the order reached a final state.
func (s *Service) Settle(ctx context.Context, orderNo string) (bool, error) {
	o, err := s.store.Order(ctx, orderNo)
	if err != nil {
		return gone(err), err
	}
	if !o.Status.Open() {
		if !s.mayStillBePaid(o) {
			return true, nil
		}
		// Closed here, but UnionPay has no close call: until its payTimeout
		// (and the notification retries after it) have passed, a payment
		// may still have happened. Ask, and keep what it says (I1, I4).
		ch, err := s.channels.For(o.SchoolID, o.Channel)
		if err != nil {
			return false, err
		}
		paid, err := s.settleClosed(ctx, ch, o)
		return paid, err
	}
	ch, err := s.channels.For(o.SchoolID, o.Channel)
	if err != nil {
		return false, err
	}
	r, err := ch.Query(ctx, QueryRequest{OrderNo: o.OrderNo, CreatedAt: o.CreatedAt})
	if err != nil {
		return false, err
	}
	r.Channel = o.Channel
	expired := !s.now().Before(o.ExpiresAt)
	switch r.Status {
	case TxnSuccess:
		_, err := s.store.ApplySuccess(ctx, r, "query")
		return err == nil, err
	case TxnRefunded:
		// Paid and already refunded at the channel (by its console): the
		// payment is still ours to record; the refund is the office's.
		r.Status = TxnSuccess
		_, err := s.store.ApplySuccess(ctx, r, "query")
		return err == nil, err
	case TxnClosed:
		// Closed at the channel but still open here: the channel's own
		// time limit ended it (WeChat's time_expire is whole seconds, so it
		// can close before ExpiresAt), or another worker's expiry closed it
		// and has not committed yet. Either way the student sees why.
		code, msg := o.FailureCode, o.FailureMessage
		if code == "" {
			code, msg = expiredCode, expiredMsg
		}
		_, _, err := s.store.CloseOrder(ctx, o.OrderNo, "channel reports closed", code, msg)
		return err == nil, err
	case TxnFailed:
		if !expired {
			// The payer may still try another card on the gateway's page.
			return false, s.store.RecordFailure(ctx, o.OrderNo, failureOf(r))
		}
		if err := s.store.RecordFailure(ctx, o.OrderNo, failureOf(r)); err != nil {
			return false, err
		}
		f := failureOf(r)
		if _, _, err := s.store.CloseOrder(ctx, o.OrderNo, "expired after failure "+r.RespCode, f.Code, f.Message); err != nil {
			return false, err
		}
		return s.doneAsking(o), nil
	}
	if !expired {
		return false, nil
	}
	if closed, err := s.expire(ctx, ch, o); !closed || err != nil {
		return false, err
	}
	return s.doneAsking(o), nil
}

// doneAsking reports whether an order just closed on its expiry needs no
// more queries: true, except for UnionPay, whose late successes are still
// looked for until LateGrace has passed.
func (s *Service) doneAsking(o Order) bool {
	o.Status = StatusClosed
	return !s.mayStillBePaid(o)
}

// gone reports whether a failure to load an order is final: only an order
// that does not exist ends its jobs; a database hiccup is retried.
func gone(err error) bool {
	e, ok := apperr.As(err)
	return ok && e.Kind == apperr.NotFound
}

// Now is the service's clock.
func (s *Service) Now() time.Time { return s.now() }

// LateGrace is how long after an order's expiry a UnionPay order closed
// on our side is still queried: the gateway's notifications are retried
// for about ten minutes, and a payment made just before payTimeout is only
// known after it.
const LateGrace = 12 * time.Minute

// mayStillBePaid reports whether a closed order could still turn out paid
// at its channel: UnionPay orders, whose gateway cannot be told to close.
func (s *Service) mayStillBePaid(o Order) bool {
	return o.Status == StatusClosed && o.Channel == UnionPay && o.ChannelTxnID == "" &&
		s.now().Before(o.ExpiresAt.Add(LateGrace))
}

// Expire closes an order whose hold has ended, after making sure at the
// channel that it was not paid.
func (s *Service) Expire(ctx context.Context, orderNo string) (bool, error) {
	o, err := s.store.Order(ctx, orderNo)
	if err != nil {
		return gone(err), err
	}
	if !o.Status.Open() {
		return true, nil
	}
	ch, err := s.channels.For(o.SchoolID, o.Channel)
	if err != nil {
		return false, err
	}
	if paid, err := s.settleIfPaid(ctx, ch, o); err != nil || paid {
		return paid, err
	}
	return s.expire(ctx, ch, o)
}

// The failure an order closed by its hold's end shows the student.
const (
	expiredCode = FailExpired
	expiredMsg  = "订单超时未支付，已自动关闭"
)

// failureOf is a failed result as recorded on the order.
func failureOf(r Result) Failure {
	code := r.Failure
	if code == "" {
		code = FailPayment
	}
	return Failure{Code: code, ChannelCode: r.RespCode, Message: r.RespMsg, Limit: r.Limit}
}

func (s *Service) expire(ctx context.Context, ch Channel, o Order) (bool, error) {
	if err := ch.Close(ctx, o.OrderNo); err != nil && !errors.Is(err, ErrCloseUnsupported) {
		return false, err
	}
	code, msg := o.FailureCode, o.FailureMessage
	if code == "" {
		code, msg = expiredCode, expiredMsg
	}
	_, _, err := s.store.CloseOrder(ctx, o.OrderNo, "expired", code, msg)
	return err == nil, err
}

// CloseAtChannel closes a closed order at the channel too (WeChat), so a
// late scan cannot pay it.
func (s *Service) CloseAtChannel(ctx context.Context, orderNo string) error {
	o, err := s.store.Order(ctx, orderNo)
	if err != nil {
		return err
	}
	ch, err := s.channels.For(o.SchoolID, o.Channel)
	if err != nil {
		return err
	}
	if err := ch.Close(ctx, orderNo); err != nil && !errors.Is(err, ErrCloseUnsupported) {
		// Closing fails when it was paid meanwhile: then apply that payment.
		if _, qerr := s.settleClosed(ctx, ch, o); qerr != nil {
			return err
		}
	}
	return nil
}

func (s *Service) settleClosed(ctx context.Context, ch Channel, o Order) (bool, error) {
	r, err := ch.Query(ctx, QueryRequest{OrderNo: o.OrderNo, CreatedAt: o.CreatedAt})
	if err != nil {
		return false, err
	}
	if r.Status == TxnSuccess {
		r.Channel = o.Channel
		_, err := s.store.ApplySuccess(ctx, r, "query")
		return err == nil, err
	}
	return false, nil
}

// PayRefund sends a pending refund to the channel and records its answer.
// On a retry it first asks the channel what became of the earlier try, so
// a refund whose answer was lost is never sent, or counted, twice.
func (s *Service) PayRefund(ctx context.Context, schoolID int64, channel string, req RefundRequest, retry bool) (bool, error) {
	ch, err := s.channels.For(schoolID, channel)
	if err != nil {
		return false, err
	}
	req.NotifyURL = s.cfg.PublicURL + "/notify/" + channel + "/refund"
	var rr RefundResult
	if retry {
		if rr, err = ch.QueryRefund(ctx, req); err != nil {
			return false, err
		}
	}
	if !retry || rr.Status == RefundNotFound {
		if rr, err = ch.Refund(ctx, req); err != nil {
			return false, err
		}
	}
	if rr.Status == RefundPending || rr.Status == RefundNotFound {
		return false, nil
	}
	if err := s.store.FinishRefund(ctx, req.RefundNo, rr); err != nil {
		return false, err
	}
	return true, nil
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
