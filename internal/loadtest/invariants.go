package loadtest

import (
	"context"
	"fmt"
	"sync"
	"time"
)

// settleWait bounds the wait for an order the sandbox took money for but
// the run did not see paid.
const settleWait = 10 * time.Second

// checkInvariants settles the orders left in doubt, then checks every
// logged-in student against the platform:
//   - no item shows paid_amount above its amount;
//   - no item is in two of the run's paid orders;
//   - every item of a paid order shows paid_amount = amount;
//   - the student's paid_amount grew by exactly the run's paid orders;
//   - GET /orders lists each of the run's paid orders once, as paid.
func (r *runner) checkInvariants(ctx context.Context, students []*student, rep *Report) {
	var mu sync.Mutex
	var late int64
	forEach(students, 8, func(s *student) {
		for _, no := range s.unsettled {
			o, ok := r.settle(ctx, s, no)
			if !ok {
				continue
			}
			po := paidOrder{no: o.OrderNo, amount: o.Amount}
			for _, it := range o.Items {
				po.items = append(po.items, it.ID)
			}
			s.recordPaid(po)
			r.paidFen.Add(o.Amount)
			mu.Lock()
			late++
			mu.Unlock()
		}
	})
	rep.LatePaid = late
	forEach(students, 8, func(s *student) {
		v, orders, err := r.checkStudent(ctx, s)
		mu.Lock()
		defer mu.Unlock()
		if err != nil {
			rep.Violations = append(rep.Violations, fmt.Sprintf("student %s: could not be checked: %v", s.no, err))
			return
		}
		rep.Violations = append(rep.Violations, v...)
		rep.StudentsChecked++
		rep.OrdersChecked += orders
	})
}

// settle waits up to settleWait for an order to be paid.
func (r *runner) settle(ctx context.Context, s *student, no string) (orderJSON, bool) {
	deadline := time.Now().Add(settleWait)
	for {
		var o orderJSON
		err := call(ctx, s.hc, "settle", "GET", s.base+"/api/v1/orders/"+no, s.token, nil, nil, &o)
		if err == nil && o.Status == "paid" {
			return o, true
		}
		if err == nil && o.Status != "paying" && o.Status != "created" || time.Now().After(deadline) || ctx.Err() != nil {
			return o, false
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func (r *runner) checkStudent(ctx context.Context, s *student) (v []string, orders int, err error) {
	var b billsJSON
	if err := call(ctx, s.hc, "bills", "GET", s.base+"/api/v1/bills", s.token, nil, nil, &b); err != nil {
		return nil, 0, err
	}
	var list struct {
		Orders []struct {
			OrderNo string `json:"order_no"`
			Status  string `json:"status"`
		} `json:"orders"`
	}
	if err := call(ctx, s.hc, "orders", "GET", s.base+"/api/v1/orders", s.token, nil, nil, &list); err != nil {
		return nil, 0, err
	}
	v = append(v, s.twice...)
	var paidNow int64
	for _, p := range b.Projects {
		for _, it := range p.Items {
			paidNow += it.PaidAmount
			if it.PaidAmount > it.Amount {
				v = append(v, fmt.Sprintf("student %s item %d: paid %d fen of %d", s.no, it.ID, it.PaidAmount, it.Amount))
			}
			if no, ok := s.itemOrder[it.ID]; ok && it.PaidAmount != it.Amount {
				v = append(v, fmt.Sprintf("student %s item %d of paid order %s: paid %d fen of %d", s.no, it.ID, no, it.PaidAmount, it.Amount))
			}
		}
	}
	var runPaid int64
	for _, o := range s.paid {
		runPaid += o.amount
	}
	if paidNow-s.firstP != runPaid {
		v = append(v, fmt.Sprintf("student %s: paid amounts grew by %d fen, the run's paid orders total %d fen", s.no, paidNow-s.firstP, runPaid))
	}
	for _, o := range s.paid {
		n := 0
		for _, l := range list.Orders {
			if l.OrderNo == o.no {
				n++
				if l.Status != "paid" {
					v = append(v, fmt.Sprintf("student %s order %s: seen paid, now listed %s", s.no, o.no, l.Status))
				}
			}
		}
		if n != 1 {
			v = append(v, fmt.Sprintf("student %s order %s: listed %d times", s.no, o.no, n))
		}
	}
	return v, len(s.paid), nil
}
