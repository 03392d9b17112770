package payment

import (
	"context"
	"sync"
	"time"
)

// MaxWait bounds how long WaitOrder may hold a request (well under the
// servers' 60 s answer timeout).
const MaxWait = 25 * time.Second

// watchers wakes callers waiting for an order to change. Signals are
// sent after the transaction that made the change committed.
type watchers struct {
	mu sync.Mutex
	m  map[string]*watch
}

type watch struct {
	c chan struct{} // closed at the next change
	n int           // callers holding c
}

// waiting counts the callers waiting on an order.
func (w *watchers) waiting(orderNo string) int {
	w.mu.Lock()
	defer w.mu.Unlock()
	if x := w.m[orderNo]; x != nil {
		return x.n
	}
	return 0
}

// add returns a channel closed at the order's next change; the caller
// calls done when it stops waiting.
func (w *watchers) add(orderNo string) (c <-chan struct{}, done func()) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.m == nil {
		w.m = map[string]*watch{}
	}
	x := w.m[orderNo]
	if x == nil {
		x = &watch{c: make(chan struct{})}
		w.m[orderNo] = x
	}
	x.n++
	return x.c, func() {
		w.mu.Lock()
		defer w.mu.Unlock()
		if x.n--; x.n == 0 && w.m[orderNo] == x {
			delete(w.m, orderNo)
		}
	}
}

// signal wakes every caller waiting on these orders.
func (w *watchers) signal(orderNos []string) {
	if len(orderNos) == 0 {
		return
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, no := range orderNos {
		if x := w.m[no]; x != nil {
			close(x.c)
			delete(w.m, no)
		}
	}
}

// watchTx is the transaction the service's work runs in: it remembers
// which orders changed, so that their waiters are woken after commit.
type watchTx struct {
	Tx
	changed *[]string
}

func (t watchTx) SetStatus(o Order, to Status, cause string, ch OrderChange) {
	*t.changed = append(*t.changed, o.OrderNo)
	t.Tx.SetStatus(o, to, cause, ch)
}

func (t watchTx) SetFailure(o Order, f Failure) {
	*t.changed = append(*t.changed, o.OrderNo)
	t.Tx.SetFailure(o, f)
}

// update runs fn in a store transaction and, once it committed, wakes the
// callers waiting on the orders it changed. Every change the service
// makes goes through here.
func (s *Service) update(ctx context.Context, fn func(tx Tx) error) error {
	if s.cfg.Busy != nil {
		s.cfg.Busy()
	}
	var changed []string
	err := s.store.Update(ctx, func(tx Tx) error {
		changed = changed[:0] // the store may run fn again
		return fn(watchTx{Tx: tx, changed: &changed})
	})
	if err == nil {
		s.watch.signal(changed)
	}
	return err
}

// WaitOrder is StudentOrder that, while the order is open and has no
// recorded failure, waits up to d (at most MaxWait) for it to change:
// paid, failed, closed or cancelled. It answers at once for an order that
// is not open, and with the order as it is when d ends or ctx is done.
func (s *Service) WaitOrder(ctx context.Context, studentID int64, orderNo string, d time.Duration) (Order, error) {
	d = min(d, MaxWait)
	deadline := time.Now().Add(d)
	for {
		var c <-chan struct{}
		var done func()
		if d > 0 {
			c, done = s.watch.add(orderNo) // before reading, so no change is missed
		}
		o, err := s.StudentOrder(ctx, studentID, orderNo)
		left := time.Until(deadline)
		if err != nil || !o.Status.Open() || o.FailureCode != "" || d <= 0 || left <= 0 {
			if done != nil {
				done()
			}
			return o, err
		}
		// Read again without a signal now and then: a change made by
		// another server process (several share one database) signals
		// only that process's waiters.
		t := time.NewTimer(min(left, s.cfg.WaitRecheck))
		select {
		case <-c:
		case <-t.C:
		case <-ctx.Done():
		}
		t.Stop()
		done()
		if ctx.Err() != nil {
			return o, nil
		}
	}
}
