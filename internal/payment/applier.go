package payment

import (
	"context"
	"errors"
	"fmt"
	"sync"
)

// applier is group commit for payment successes, the same on every
// database. A commit costs a disk sync (and, on PostgreSQL, round trips);
// at the start of term many notifications arrive together. The applier
// applies all that are waiting in one transaction: every member's order
// is read in one round trip, then each decides from what it read under
// its own locks, in arrival order. A member refused before writing (a
// mismatch) is simply left out; if the group cannot commit, or a member
// fails after it wrote, every member is applied again alone, so a bad one
// spoils nothing for the rest. Two members for the same order never share
// a group: the later waits for the next.
//
// It is flat combining, not a goroutine: a caller that finds a lane free
// runs a group itself, with whatever is waiting; callers that arrive
// while every lane is busy wait, and when a leader's own success is
// applied it hands its lane to the first of them. Alone, a notification
// is applied at once in its caller's goroutine: no waiting for company,
// no hand-off. Several lanes (Config.ApplyLanes) let groups run side by
// side on a database that runs transactions in parallel, as long as a
// group's worth of callers waits (spareAt): two groups that
// name the same order meet at its row lock (taken in order-number order),
// and the later finds the payment recorded.
type applier struct {
	s     *Service
	lanes int

	mu      sync.Mutex
	queue   []*applyCall
	leaders int // groups being applied now, at most lanes
	closed  bool
	idle    *sync.Cond // signalled when no group is running
}

type applyReq struct {
	r      Result
	source string
	raw    string
}

type applyCall struct {
	ctx    context.Context
	req    applyReq
	out    Outcome
	err    error
	done   chan struct{} // closed when out and err are set
	lead   chan struct{} // closed when this caller is to lead
	handed bool          // holds a lane, or one was handed to it (under mu)
}

// maxGroup bounds one group: a commit must not wait behind too many.
const maxGroup = 64

// errSpoiled ends a group whose member failed after writing.
var errSpoiled = errors.New("payment: a member of the group failed after writing")

func newApplier(s *Service, lanes int) *applier {
	a := &applier{s: s, lanes: max(lanes, 1)}
	a.idle = sync.NewCond(&a.mu)
	return a
}

func (a *applier) apply(ctx context.Context, req applyReq) (Outcome, error) {
	c := &applyCall{ctx: context.WithoutCancel(ctx), req: req, done: make(chan struct{}), lead: make(chan struct{})}
	a.mu.Lock()
	if a.closed {
		a.mu.Unlock()
		return Outcome{}, fmt.Errorf("payment: service closed")
	}
	a.queue = append(a.queue, c)
	if a.leaders == 0 || (a.leaders < a.lanes && a.unhanded() >= spareAt) {
		a.leaders++
		c.handed = true // it holds a lane: never hand it another
	} else {
		a.mu.Unlock()
		select {
		case <-c.done:
			// Applied in another lane's group. A lane handed over
			// meanwhile is passed on (handed is final once c is taken).
			a.mu.Lock()
			if c.handed {
				a.release()
			}
			a.mu.Unlock()
			return c.out, c.err
		case <-c.lead: // a lane handed over
			a.mu.Lock()
		}
	}
	a.run(c)
	return c.out, c.err
}

// run applies groups, holding a lane, until the leader's own call is
// done, then hands the lane on. Called with mu held; returns without it.
func (a *applier) run(own *applyCall) {
	for {
		group := a.take()
		if len(group) == 0 {
			// Another lane took own into its group: nothing waits.
			a.release()
			a.mu.Unlock()
			<-own.done
			return
		}
		a.mu.Unlock()
		a.applyGroup(group)
		for _, c := range group {
			close(c.done)
		}
		a.mu.Lock()
		select {
		case <-own.done:
			a.release()
			a.mu.Unlock()
			return
		default:
		}
	}
}

// spareAt is how many callers must be waiting for a lane beyond the
// first to run: fewer wait for the next group of a running lane, which
// commits them together (under full load a second lane would otherwise
// split the groups and add commits).
const spareAt = 4

// unhanded counts the waiting callers no lane was handed to. Called with
// mu held.
func (a *applier) unhanded() int {
	n := 0
	for _, c := range a.queue {
		if !c.handed {
			n++
		}
	}
	return n
}

// release hands a lane to the first waiting caller not handed one yet,
// or frees it: the last lane always goes on while anyone waits, another
// only while a group's worth does. Called with mu held.
func (a *applier) release() {
	if a.leaders == 1 || a.unhanded() >= spareAt {
		for _, c := range a.queue {
			if !c.handed {
				c.handed = true
				close(c.lead)
				return
			}
		}
	}
	a.leaders--
	if a.leaders == 0 {
		a.idle.Broadcast()
	}
}

// take removes the next group from the queue: in arrival order, at most
// maxGroup, one call per order. Called with mu held.
func (a *applier) take() []*applyCall {
	var group, rest []*applyCall
	orders := map[string]bool{}
	for _, c := range a.queue {
		if len(group) == maxGroup || orders[c.req.r.OrderNo] {
			rest = append(rest, c)
			continue
		}
		orders[c.req.r.OrderNo] = true
		group = append(group, c)
	}
	a.queue = rest
	return group
}

// applyGroup applies a group; a panic (a bug) fails its members instead of
// the whole process, and nothing of theirs was committed.
func (a *applier) applyGroup(group []*applyCall) {
	defer func() {
		if p := recover(); p != nil {
			for _, c := range group {
				c.out, c.err = Outcome{}, fmt.Errorf("payment: applying payments panicked: %v", p)
			}
		}
	}()
	if len(group) > 1 && a.together(group) == nil {
		return
	}
	for _, c := range group {
		a.alone(c)
	}
}

func (a *applier) alone(c *applyCall) {
	c.err = a.s.update(c.ctx, func(tx Tx) error {
		if err := a.s.applyAll(c.ctx, tx, []*applyCall{c}); err != nil && !errors.Is(err, errSpoiled) {
			return err
		}
		return c.err
	})
	if c.err != nil {
		c.out = Outcome{}
	}
}

func (a *applier) together(group []*applyCall) error {
	return a.s.update(context.Background(), func(tx Tx) error { return a.s.applyAll(context.Background(), tx, group) })
}

// applyAll reads every member's order in one round trip, then decides and
// writes each in arrival order. A member refused before writing keeps
// its error and the others go on; one that fails after writing spoils
// the transaction.
func (s *Service) applyAll(ctx context.Context, tx Tx, group []*applyCall) error {
	keys := make([]PaymentKey, len(group))
	for i, c := range group {
		keys[i] = PaymentKey{OrderNo: c.req.r.OrderNo, Channel: c.req.r.Channel, ChannelTxnID: c.req.r.ChannelTxnID}
	}
	states, err := tx.LockForPayments(ctx, keys)
	if err != nil {
		return err
	}
	for i, c := range group {
		before := tx.Writes()
		c.out, c.err = s.applyIn(c.ctx, tx, c.req.r, c.req.source, c.req.raw, states[i])
		if c.err != nil {
			if tx.Writes() != before {
				return errSpoiled
			}
			c.out = Outcome{}
		}
	}
	return nil
}

// close refuses new work and waits until everything taken is applied.
func (a *applier) close() {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.closed = true
	for a.leaders > 0 {
		a.idle.Wait()
	}
}
