package payment

import (
	"context"
	"errors"
	"fmt"
	"sync"
)

// applier is group commit for payment successes, the same on every
// database. A commit costs a disk sync (and, on PostgreSQL, a round trip);
// at the start of term many notifications arrive together. The applier
// takes all that are waiting and applies them in one transaction, in
// arrival order, each deciding from what it reads under its own locks.
// A member refused before writing (a forged amount, a mismatch) is simply
// left out; if the group cannot commit, or a member fails after it wrote,
// every member is applied again alone, so a bad one spoils nothing for
// the rest. Alone, a notification is applied at once: there is no
// waiting for company. Two members for the same order never share a
// group: the later waits for the next.
type applier struct {
	s  *Service
	ch chan *applyCall

	mu     sync.RWMutex // held for reading while sending, for writing to close
	closed bool
	done   chan struct{} // closed when run has applied everything sent
}

type applyReq struct {
	r      Result
	source string
	raw    string
}

type applyCall struct {
	ctx  context.Context
	req  applyReq
	out  Outcome
	err  error
	done chan struct{}
}

// maxGroup bounds one group: a commit must not wait behind too many.
const maxGroup = 64

// errSpoiled ends a group whose member failed after writing.
var errSpoiled = errors.New("payment: a member of the group failed after writing")

func newApplier(s *Service) *applier {
	a := &applier{s: s, ch: make(chan *applyCall, maxGroup), done: make(chan struct{})}
	go a.run()
	return a
}

func (a *applier) apply(ctx context.Context, req applyReq) (Outcome, error) {
	c := &applyCall{ctx: context.WithoutCancel(ctx), req: req, done: make(chan struct{})}
	a.mu.RLock()
	if a.closed {
		a.mu.RUnlock()
		return Outcome{}, fmt.Errorf("payment: service closed")
	}
	a.ch <- c
	a.mu.RUnlock()
	<-c.done
	return c.out, c.err
}

func (a *applier) run() {
	defer close(a.done)
	var later []*applyCall // same order as a member of the last group
	for {
		var group []*applyCall
		orders := map[string]bool{}
		add := func(c *applyCall) {
			if orders[c.req.r.OrderNo] {
				later = append(later, c)
				return
			}
			orders[c.req.r.OrderNo] = true
			group = append(group, c)
		}
		waiting := later
		later = nil
		for _, c := range waiting {
			add(c)
		}
		if len(group) == 0 {
			c, ok := <-a.ch
			if !ok {
				return
			}
			add(c)
		}
	fill:
		for len(group) < maxGroup {
			select {
			case c, ok := <-a.ch:
				if !ok {
					break fill
				}
				add(c)
			default:
				break fill
			}
		}
		a.applyGroup(group)
		for _, c := range group {
			close(c.done)
		}
	}
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
	c.err = a.s.store.Update(c.ctx, func(tx Tx) error {
		var err error
		c.out, err = a.s.applyIn(c.ctx, tx, c.req.r, c.req.source, c.req.raw)
		return err
	})
	if c.err != nil {
		c.out = Outcome{}
	}
}

func (a *applier) together(group []*applyCall) error {
	ctx := context.Background()
	return a.s.store.Update(ctx, func(tx Tx) error {
		for _, c := range group {
			before := tx.Writes()
			c.out, c.err = a.s.applyIn(c.ctx, tx, c.req.r, c.req.source, c.req.raw)
			if c.err != nil {
				if tx.Writes() != before {
					return errSpoiled
				}
				c.out = Outcome{}
			}
		}
		return nil
	})
}

// close refuses new work and waits until everything sent is applied.
func (a *applier) close() {
	a.mu.Lock()
	if !a.closed {
		a.closed = true
		close(a.ch)
	}
	a.mu.Unlock()
	<-a.done
}
