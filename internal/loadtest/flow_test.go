package loadtest

import (
	"context"
	"sync/atomic"
	"testing"
	"time"
)

// fakePayer pays instantly, except that the first flow of the slow
// student waits until `others` other flows have paid; every student has
// three projects to pay.
type fakePayer struct {
	slow    *student
	others  int64
	paid    atomic.Int64
	release chan struct{}
}

func (f *fakePayer) payOnce(ctx context.Context, s *student) (paidOrder, error) {
	if s == f.slow && s.flows == 0 {
		select {
		case <-f.release:
		case <-time.After(10 * time.Second):
		}
	} else if f.paid.Add(1) == f.others {
		close(f.release)
	}
	s.flows++
	return paidOrder{no: s.no + "-" + string(rune('0'+s.flows)), amount: 100, items: []int64{int64(s.i*10 + s.flows)}}, nil
}

func (f *fakePayer) refresh(ctx context.Context, s *student) error {
	s.next = nil
	if s.flows < 3 {
		s.next = []int64{1}
	}
	return nil
}

func fakeRunner(n int, p payer) (*runner, []*student) {
	r := &runner{pool: newPool(n), pay: p}
	var st []*student
	for i := range n {
		s := &student{i: i, no: studentNo(i), next: []int64{1}}
		st = append(st, s)
		r.pool.add(s)
	}
	return r, st
}

// TestFlowLatencyRunsFromTheSchedule: in an open loop at 200 flows/s, one
// student's flow is stuck until 19 other flows have paid. The others are
// not held up, and the stuck flow's latency runs from its scheduled start
// until it is paid, the whole 95 ms of the run or more.
func TestFlowLatencyRunsFromTheSchedule(t *testing.T) {
	f := &fakePayer{others: 19, release: make(chan struct{})}
	r, st := fakeRunner(10, f)
	f.slow = st[0] // the pool hands out students in order: the first flow gets it
	launched, _, wait := openLoop(context.Background(), time.Now(), 200, 100*time.Millisecond, 0, r.flow)
	wait()
	if launched != 20 || r.flowsPaid.Load() != 20 || r.hist[stepFlow].Count() != 20 || r.paidFen.Load() != 2000 {
		t.Fatalf("launched %d paid %d recorded %d fen %d, want 20, 20, 20, 2000", launched, r.flowsPaid.Load(), r.hist[stepFlow].Count(), r.paidFen.Load())
	}
	if got := r.hist[stepFlow].Max(); got < 95*time.Millisecond || got > 5*time.Second {
		t.Fatalf("stuck flow's latency %v, want from its schedule to the 20th flow (≥ 95 ms)", got)
	}
	if len(st[0].paid) == 0 || st[0].paid[0].amount != 100 {
		t.Fatalf("the stuck flow's order was not recorded: %+v", st[0].paid)
	}
}

// TestClosedLoopStopsWhenEveryoneHasPaid: five students with three
// projects each make fifteen flows, then every worker stops, and the
// flows that found nobody are counted, not failed.
func TestClosedLoopStopsWhenEveryoneHasPaid(t *testing.T) {
	f := &fakePayer{others: -1, release: make(chan struct{})}
	r, st := fakeRunner(5, f)
	closedLoop(context.Background(), 4, time.Now().Add(10*time.Second), r.flow)
	if r.flowsPaid.Load() != 15 || r.flowErrs.Load() != 0 || r.starved.Load() == 0 || r.pool.active.Load() != 0 {
		t.Fatalf("paid %d failed %d starved %d active %d, want 15, 0, >0, 0", r.flowsPaid.Load(), r.flowErrs.Load(), r.starved.Load(), r.pool.active.Load())
	}
	for _, s := range st {
		if len(s.paid) != 3 || len(s.twice) != 0 {
			t.Fatalf("student %s: %d paid orders, items twice %v", s.no, len(s.paid), s.twice)
		}
	}
}

func TestRecordPaidNotesAnItemInTwoOrders(t *testing.T) {
	s := &student{no: "LT00000001"}
	s.recordPaid(paidOrder{no: "A", amount: 5, items: []int64{1, 2}})
	s.recordPaid(paidOrder{no: "B", amount: 5, items: []int64{3}})
	if len(s.twice) != 0 {
		t.Fatalf("distinct items flagged: %v", s.twice)
	}
	s.recordPaid(paidOrder{no: "C", amount: 5, items: []int64{2}})
	if len(s.twice) != 1 {
		t.Fatalf("item 2 in orders A and C not flagged: %v", s.twice)
	}
}

func TestNextItemsIsTheFirstProjectWithUnpaidMandatoryItems(t *testing.T) {
	type it = struct {
		ID         int64  `json:"id"`
		Amount     int64  `json:"amount"`
		PaidAmount int64  `json:"paid_amount"`
		Mandatory  bool   `json:"mandatory"`
		Status     string `json:"status"`
	}
	var b billsJSON
	b.Projects = append(b.Projects,
		struct {
			ID    int64 `json:"id"`
			Items []it  `json:"items"`
		}{1, []it{{1, 100, 100, true, "paid"}, {2, 50, 0, false, "unpaid"}}},
		struct {
			ID    int64 `json:"id"`
			Items []it  `json:"items"`
		}{2, []it{{3, 100, 0, true, "unpaid"}, {4, 30, 0, true, "unpaid"}, {5, 9, 0, false, "unpaid"}}},
		struct {
			ID    int64 `json:"id"`
			Items []it  `json:"items"`
		}{3, []it{{6, 100, 0, true, "unpaid"}}},
	)
	ids, paid := b.nextItems()
	if len(ids) != 2 || ids[0] != 3 || ids[1] != 4 || paid != 100 {
		t.Fatalf("next %v paid %d, want [3 4] and 100", ids, paid)
	}
}
