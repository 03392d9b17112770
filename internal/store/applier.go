package store

import (
	"context"
	"fmt"
	"sync"

	"campuspay/internal/payment"
)

// applier is group commit for payment successes on SQLite. SQLite has one
// writer and pays a disk sync per commit; a payment touches some twenty
// pages. When notifications arrive together (semester start), the applier
// applies all that are waiting in one transaction, each inside its own
// savepoint so that one bad notification changes nothing and spoils
// nothing for the others, and syncs once. Alone, a notification is
// applied at once in a transaction of its own: there is no waiting for
// company.
type applier struct {
	s  *Store
	ch chan *applyReq

	mu     sync.RWMutex // held for reading while sending, for writing to close
	closed bool
	done   chan struct{} // closed when run has applied everything sent
}

type applyReq struct {
	ctx    context.Context
	r      payment.Result
	source string
	out    payment.Outcome
	err    error
	done   chan struct{}
}

// maxGroup bounds one group: a commit must not wait behind too many.
const maxGroup = 64

func newApplier(s *Store) *applier {
	a := &applier{s: s, ch: make(chan *applyReq, maxGroup), done: make(chan struct{})}
	go a.run()
	return a
}

func (a *applier) apply(ctx context.Context, r payment.Result, source string) (payment.Outcome, error) {
	req := &applyReq{ctx: context.WithoutCancel(ctx), r: r, source: source, done: make(chan struct{})}
	a.mu.RLock()
	if a.closed {
		a.mu.RUnlock()
		return payment.Outcome{}, fmt.Errorf("store: closed")
	}
	a.ch <- req
	a.mu.RUnlock()
	<-req.done
	return req.out, req.err
}

func (a *applier) run() {
	defer close(a.done)
	for first := range a.ch {
		group := []*applyReq{first}
	fill:
		for len(group) < maxGroup {
			select {
			case req, ok := <-a.ch:
				if !ok {
					break fill
				}
				group = append(group, req)
			default:
				break fill
			}
		}
		a.applyGroup(group)
		for _, req := range group {
			close(req.done)
		}
	}
}

// applyGroup applies a group: one member in a transaction of its own,
// several in one shared transaction. A panic (a bug) fails the group's
// members instead of the whole process; nothing of theirs was committed.
func (a *applier) applyGroup(group []*applyReq) {
	defer func() {
		if p := recover(); p != nil {
			for _, req := range group {
				req.out, req.err = payment.Outcome{}, fmt.Errorf("store: applying payments panicked: %v", p)
			}
		}
	}()
	if len(group) == 1 {
		req := group[0]
		req.err = a.s.InTx(req.ctx, func(tx *Tx) error {
			var err error
			req.out, err = tx.applySuccess(req.ctx, req.r, req.source)
			return err
		})
		return
	}
	rs := make([]payment.Result, len(group))
	sources := make([]string, len(group))
	for i, req := range group {
		rs[i], sources[i] = req.r, req.source
	}
	outs, errs := a.s.ApplyGroup(context.Background(), rs, sources)
	for i, req := range group {
		req.out, req.err = outs[i], errs[i]
	}
}

// ApplyGroup applies several successes in one transaction, each inside its
// own savepoint: one that is refused (a forged amount, an unknown order)
// changes nothing and spoils nothing for the others. Should the
// transaction itself fail, every member reports it and nothing was
// applied: the channel retries, or the worker queries.
func (s *Store) ApplyGroup(ctx context.Context, rs []payment.Result, sources []string) ([]payment.Outcome, []error) {
	outs := make([]payment.Outcome, len(rs))
	errs := make([]error, len(rs))
	err := s.InTx(ctx, func(tx *Tx) error {
		for i, r := range rs {
			outs[i], errs[i] = payment.Outcome{}, nil
			if _, err := tx.exec(ctx, `SAVEPOINT apply`); err != nil {
				return err
			}
			outs[i], errs[i] = tx.applySuccess(ctx, r, sources[i])
			if errs[i] != nil {
				// Undo this one; ROLLBACK TO keeps the savepoint, RELEASE ends it.
				if _, err := tx.exec(ctx, `ROLLBACK TO SAVEPOINT apply`); err != nil {
					return err
				}
			}
			if _, err := tx.exec(ctx, `RELEASE SAVEPOINT apply`); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		for i := range rs {
			outs[i], errs[i] = payment.Outcome{}, fmt.Errorf("store: group of %d payments not applied: %w", len(rs), err)
		}
	}
	return outs, errs
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
