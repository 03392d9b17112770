package loadtest

import (
	"context"
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
)

// Steps of a student's journey, each with its own latency histogram.
const (
	stepLogin = iota
	stepPassword
	stepBills
	stepOrder
	stepForm
	stepPay
	stepUntilPaid
	stepFlow
	stepStormLogin
	stepStormPassword
	stepFlowCalm  // flows started before the login storm
	stepFlowStorm // flows started during it
	numSteps
)

var stepNames = [numSteps]string{"login", "password", "bills", "order", "form", "pay helper", "until paid", "flow",
	"storm login", "storm password", "flow, calm", "flow, storm"}

// card is the SPEC §5 test card every flow pays with: ICBC debit, pays,
// single limit 50,000.00.
var card = map[string]string{"card_no": "6222021000000000009", "pin": "123456", "phone": "13800000001", "sms_code": "111111"}

// student is one synthetic student as the load test drives them. Only one
// goroutine uses a student at a time (the pool hands it out).
type student struct {
	i      int
	no     string
	last6  string
	base   string // the server this student talks to
	hc     *http.Client
	token  string
	flows  int
	next   []int64 // the unpaid mandatory items of the first project that has some
	firstP int64   // Σ paid_amount at the first look at the bills

	paid      []paidOrder      // orders the run saw paid
	itemOrder map[int64]string // item → the run's paid order that holds it
	unsettled []string         // orders the sandbox may have taken money for, not seen paid
	twice     []string         // items seen in two of the run's paid orders
}

// paidOrder is an order the run saw reach "paid".
type paidOrder struct {
	no     string
	amount int64
	items  []int64
}

type billsJSON struct {
	Projects []struct {
		ID    int64 `json:"id"`
		Items []struct {
			ID         int64  `json:"id"`
			Amount     int64  `json:"amount"`
			PaidAmount int64  `json:"paid_amount"`
			Mandatory  bool   `json:"mandatory"`
			Status     string `json:"status"`
		} `json:"items"`
	} `json:"projects"`
}

// nextItems is every unpaid mandatory item of the first project that has
// any (R7 and R8 allow exactly that as an order), and Σ paid_amount.
func (b billsJSON) nextItems() (ids []int64, paid int64) {
	for _, p := range b.Projects {
		var mand []int64
		for _, it := range p.Items {
			paid += it.PaidAmount
			if it.Mandatory && it.Status == "unpaid" {
				mand = append(mand, it.ID)
			}
		}
		if ids == nil && len(mand) > 0 {
			ids = mand
		}
	}
	return ids, paid
}

// runner holds one run's shared state.
type runner struct {
	cfg        Config
	school     string
	sandboxURL string
	hist       [numSteps]Histogram
	errs       errorCounts
	noIDField  atomic.Bool // the server refused id_card_last6 once: send the old shape
	flowsPaid  atomic.Int64
	flowErrs   atomic.Int64
	inFlight   atomic.Int64
	starved    atomic.Int64 // flows that found every student done
	logins     atomic.Int64
	paidFen    atomic.Int64
	pool       pool
	pay        payer
	// stormAt is when the login storm starts (the middle of the pay
	// phase), zero without one: flows are also timed by the half they
	// started in, so one run compares payments with and without a storm.
	stormAt time.Time
}

// payer is the part of a flow that talks to the platform, so that the
// scheduling and timing around it can be tested with a fake.
type payer interface {
	// payOnce pays s.next and returns when the order is paid.
	payOnce(ctx context.Context, s *student) (paidOrder, error)
	// refresh reads the bills again after a flow and sets s.next.
	refresh(ctx context.Context, s *student) error
}

// pool hands out students who have something to pay, one flow at a time.
type pool struct {
	free   chan *student
	active atomic.Int64 // students not retired (free or in a flow)
}

func newPool(n int) pool { return pool{free: make(chan *student, n)} }

func (p *pool) add(s *student) { p.active.Add(1); p.free <- s }
func (p *pool) put(s *student) { p.free <- s }
func (p *pool) retire()        { p.active.Add(-1) }

// take waits for a free student; errStop when none is left at all.
func (p *pool) take(ctx context.Context) (*student, error) {
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case s := <-p.free:
			return s, nil
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-tick.C:
			if p.active.Load() == 0 {
				return nil, errStop
			}
		}
	}
}

// flow is one pay flow, the job both loops run: a free student orders
// their next project's mandatory items and pays them; the flow's latency
// runs from its scheduled start to "paid". Afterwards the student reads
// their bills again (timed as a step, outside the flow) and goes back to
// the pool, or retires when nothing is left to pay.
func (r *runner) flow(ctx context.Context, scheduled time.Time) error {
	r.inFlight.Add(1)
	defer r.inFlight.Add(-1)
	s, err := r.pool.take(ctx)
	if err != nil {
		if err == errStop {
			r.starved.Add(1)
		} else {
			r.flowErrs.Add(1)
			r.errs.add("flow", &callError{"flow", "no_free_student"})
		}
		return err
	}
	o, err := r.pay.payOnce(ctx, s)
	if err == nil {
		took := time.Since(scheduled)
		r.hist[stepFlow].Record(took)
		if !r.stormAt.IsZero() {
			if scheduled.Before(r.stormAt) {
				r.hist[stepFlowCalm].Record(took)
			} else {
				r.hist[stepFlowStorm].Record(took)
			}
		}
		r.flowsPaid.Add(1)
		r.paidFen.Add(o.amount)
		s.recordPaid(o)
	} else {
		r.flowErrs.Add(1)
		r.errs.add("flow", err)
	}
	if err := r.pay.refresh(context.WithoutCancel(ctx), s); err != nil || len(s.next) == 0 {
		if err != nil {
			r.errs.add("bills", err)
		}
		r.pool.retire()
		return nil
	}
	r.pool.put(s)
	return nil
}

// recordPaid keeps a paid order and notes an item paid by two of them.
func (s *student) recordPaid(o paidOrder) {
	if s.itemOrder == nil {
		s.itemOrder = map[int64]string{}
	}
	for _, id := range o.items {
		if prev, ok := s.itemOrder[id]; ok {
			s.twice = append(s.twice, fmt.Sprintf("student %s item %d in paid orders %s and %s", s.no, id, prev, o.no))
		}
		s.itemOrder[id] = o.no
	}
	s.paid = append(s.paid, o)
}

// httpPayer is the real payer: the platform's API and the sandbox's
// test helper, over HTTP.
type httpPayer struct{ r *runner }

type orderJSON struct {
	OrderNo string `json:"order_no"`
	Status  string `json:"status"`
	Amount  int64  `json:"amount"`
	Items   []struct {
		ID int64 `json:"id"`
	} `json:"items"`
	Pay *struct {
		Type   string            `json:"type"`
		URL    string            `json:"url"`
		Fields map[string]string `json:"fields"`
	} `json:"pay"`
}

func (p httpPayer) payOnce(ctx context.Context, s *student) (paidOrder, error) {
	r := p.r
	s.flows++
	var o orderJSON
	t := time.Now()
	err := call(ctx, s.hc, "order", "POST", s.base+"/api/v1/orders", s.token,
		map[string]string{"Idempotency-Key": fmt.Sprintf("lt-%s-%d", s.no, s.flows)},
		map[string]any{"item_ids": s.next, "channel": "unionpay"}, &o)
	if err == nil && (o.OrderNo == "" || o.Pay == nil || o.Pay.Type != "form_post") {
		err = &callError{"order", "no_form"}
	}
	if err != nil {
		return paidOrder{}, err
	}
	r.hist[stepOrder].Record(time.Since(t))
	t = time.Now()
	if err := postForm(ctx, s.hc, "form", o.Pay.URL, o.Pay.Fields); err != nil {
		p.cancel(ctx, s, o.OrderNo)
		return paidOrder{}, err
	}
	r.hist[stepForm].Record(time.Since(t))
	t = time.Now()
	var pr struct {
		RespCode string `json:"resp_code"`
	}
	in := map[string]string{"order_no": o.OrderNo}
	for k, v := range card {
		in[k] = v
	}
	if err := call(ctx, s.hc, "pay", "POST", r.sandboxURL+"/sandbox/test-helpers/unionpay/pay", "", nil, in, &pr); err != nil {
		s.unsettled = append(s.unsettled, o.OrderNo) // the money may have been taken
		return paidOrder{}, err
	}
	if pr.RespCode != "00" {
		p.cancel(ctx, s, o.OrderNo)
		return paidOrder{}, &callError{"pay", "resp_" + pr.RespCode}
	}
	r.hist[stepPay].Record(time.Since(t))
	t = time.Now()
	deadline := t.Add(r.cfg.PayTimeout)
	for {
		// Long poll: the server answers when the order changes (a server
		// without it answers at once, and the loop asks again after
		// PollInterval).
		wait := min(25, max(0, int(time.Until(deadline)/time.Second)))
		var g orderJSON
		err := call(ctx, s.hc, "poll", "GET", fmt.Sprintf("%s/api/v1/orders/%s?wait_seconds=%d", s.base, o.OrderNo, wait), s.token, nil, nil, &g)
		if err == nil && g.Status == "paid" {
			break
		}
		if err == nil && g.Status != "paying" && g.Status != "created" {
			s.unsettled = append(s.unsettled, o.OrderNo)
			return paidOrder{}, &callError{"poll", "status_" + g.Status}
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			s.unsettled = append(s.unsettled, o.OrderNo)
			if err == nil {
				err = &callError{"poll", "not_paid_in_time"}
			}
			return paidOrder{}, err
		}
		time.Sleep(r.cfg.PollInterval)
	}
	r.hist[stepUntilPaid].Record(time.Since(t))
	po := paidOrder{no: o.OrderNo, amount: o.Amount}
	for _, it := range o.Items {
		po.items = append(po.items, it.ID)
	}
	return po, nil
}

// cancel frees an order's items after a failed step, so the student can
// go on; a failure here only shows in the error counts.
func (p httpPayer) cancel(ctx context.Context, s *student, orderNo string) {
	if err := call(context.WithoutCancel(ctx), s.hc, "cancel", "POST", s.base+"/api/v1/orders/"+orderNo+"/cancel", s.token, nil, nil, nil); err != nil {
		p.r.errs.add("cancel", err)
	}
}

func (p httpPayer) refresh(ctx context.Context, s *student) error {
	var b billsJSON
	t := time.Now()
	if err := call(ctx, s.hc, "bills", "GET", s.base+"/api/v1/bills", s.token, nil, nil, &b); err != nil {
		return err
	}
	p.r.hist[stepBills].Record(time.Since(t))
	s.next, _ = b.nextItems()
	return nil
}

// login is R5's first login: the initial password, then the required
// change with the last 6 characters of the ID number. A student whose
// password an earlier run already changed logs in with the new one.
func (r *runner) login(ctx context.Context, s *student, hLogin, hPassword *Histogram) error {
	var lr struct {
		Token              string `json:"token"`
		MustChangePassword bool   `json:"must_change_password"`
	}
	t := time.Now()
	err := call(ctx, s.hc, "login", "POST", s.base+"/api/v1/auth/student-login", "",
		nil, map[string]string{"school_code": r.school, "student_no": s.no, "password": initialPassword}, &lr)
	if ce, ok := err.(*callError); ok && ce.code == "bad_credentials" {
		err = call(ctx, s.hc, "login", "POST", s.base+"/api/v1/auth/student-login", "",
			nil, map[string]string{"school_code": r.school, "student_no": s.no, "password": newPassword}, &lr)
	}
	if err != nil {
		return err
	}
	hLogin.Record(time.Since(t))
	s.token = lr.Token
	if !lr.MustChangePassword {
		return nil
	}
	t = time.Now()
	in := map[string]string{"old_password": initialPassword, "new_password": newPassword, "id_card_last6": s.last6}
	if r.noIDField.Load() {
		delete(in, "id_card_last6")
	}
	err = call(ctx, s.hc, "password", "POST", s.base+"/api/v1/me/password", s.token, nil, in, nil)
	if ce, ok := err.(*callError); ok && ce.code == "invalid_request" && in["id_card_last6"] != "" {
		// A server from before R5's identity check refuses the unknown
		// field: send the old shape from now on.
		r.noIDField.Store(true)
		delete(in, "id_card_last6")
		err = call(ctx, s.hc, "password", "POST", s.base+"/api/v1/me/password", s.token, nil, in, nil)
	}
	if err != nil {
		return err
	}
	hPassword.Record(time.Since(t))
	return nil
}

// loginAndLook logs a pay-pool student in and reads their bills once.
func (r *runner) loginAndLook(ctx context.Context, s *student) error {
	if err := r.login(ctx, s, &r.hist[stepLogin], &r.hist[stepPassword]); err != nil {
		return err
	}
	var b billsJSON
	t := time.Now()
	if err := call(ctx, s.hc, "bills", "GET", s.base+"/api/v1/bills", s.token, nil, nil, &b); err != nil {
		return err
	}
	r.hist[stepBills].Record(time.Since(t))
	s.next, s.firstP = b.nextItems()
	return nil
}

// forEach runs fn over items with at most n at once.
func forEach[T any](items []T, n int, fn func(T)) {
	var wg sync.WaitGroup
	sem := make(chan struct{}, max(1, n))
	for _, it := range items {
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			fn(it)
		}()
	}
	wg.Wait()
}
