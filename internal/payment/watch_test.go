package payment_test

import (
	"context"
	"runtime"
	"testing"
	"time"

	"campuspay/internal/payment"
)

// waitFor runs WaitOrder in the background and returns once it waits.
func (k *kit) waitFor(student int, o payment.Order, d time.Duration) <-chan payment.Order {
	k.t.Helper()
	got := make(chan payment.Order, 1)
	before := k.svc.Waiting(o.OrderNo)
	go func() {
		w, err := k.svc.WaitOrder(ctx, k.students[student].ID, o.OrderNo, d)
		if err != nil {
			k.t.Errorf("wait: %v", err)
		}
		got <- w
	}()
	for deadline := time.Now().Add(10 * time.Second); k.svc.Waiting(o.OrderNo) == before; runtime.Gosched() {
		if time.Now().After(deadline) {
			k.t.Fatal("WaitOrder never started waiting")
		}
	}
	return got
}

func TestWaitOrder(t *testing.T) {
	every(t, func(t *testing.T, k *kit) {
		// The kit's service never reads an order again unasked
		// (WaitRecheck is an hour): only a signal wakes a waiter early.
		t.Run("a_payment_wakes_the_waiter_with_the_paid_order", func(t *testing.T) {
			o := k.order(0, debitPay, fees...)
			got := k.waitFor(0, o, payment.MaxWait)
			if out, err := k.apply(k.success(o)); err != nil || out.Disposition != payment.Apply {
				t.Fatalf("apply: %+v %v", out, err)
			}
			select {
			case w := <-got:
				if w.Status != payment.StatusPaid {
					t.Fatalf("woken with %s, want paid", w.Status)
				}
			case <-time.After(payment.MaxWait - time.Second):
				t.Fatal("the waiter was not woken by the payment")
			}
			if n := k.svc.Waiting(o.OrderNo); n != 0 {
				t.Fatalf("%d waiters left behind", n)
			}
		})
		t.Run("a_cancel_wakes_every_waiter", func(t *testing.T) {
			o := k.order(1, closePay, fees...)
			a, b := k.waitFor(1, o, payment.MaxWait), k.waitFor(1, o, payment.MaxWait)
			if n := k.svc.Waiting(o.OrderNo); n != 2 {
				t.Fatalf("%d waiters, want 2", n)
			}
			k.cancel(1, o)
			for _, c := range []<-chan payment.Order{a, b} {
				select {
				case w := <-c:
					if w.Status.Open() {
						t.Fatalf("woken with %s", w.Status)
					}
				case <-time.After(payment.MaxWait - time.Second):
					t.Fatal("a waiter was not woken by the cancel")
				}
			}
		})
		t.Run("an_order_that_is_not_open_answers_at_once_and_a_quiet_one_at_its_deadline", func(t *testing.T) {
			paid := k.pay(2, fees...)
			w, err := k.svc.WaitOrder(ctx, k.students[2].ID, paid.OrderNo, payment.MaxWait)
			if err != nil || w.Status != payment.StatusPaid || k.svc.Waiting(paid.OrderNo) != 0 {
				t.Fatalf("paid order: %s %v", w.Status, err)
			}
			o := k.order(2, debitPay, upgrade)
			w, err = k.svc.WaitOrder(ctx, k.students[2].ID, o.OrderNo, 50*time.Millisecond)
			if err != nil || w.Status != payment.StatusPaying || k.svc.Waiting(o.OrderNo) != 0 {
				t.Fatalf("quiet order: %s %v, %d waiters", w.Status, err, k.svc.Waiting(o.OrderNo))
			}
			cctx, cancel := context.WithCancel(ctx)
			cancel()
			if w, err := k.svc.WaitOrder(cctx, k.students[2].ID, o.OrderNo, payment.MaxWait); err == nil && w.Status.Open() && k.svc.Waiting(o.OrderNo) != 0 {
				t.Fatalf("an ended request left a waiter")
			}
		})
		t.Run("another_student's_order_is_not_found", func(t *testing.T) {
			o := k.order(0, debitPay, upgrade)
			if _, err := k.svc.WaitOrder(ctx, k.students[1].ID, o.OrderNo, time.Second); err == nil {
				t.Fatal("waited on another student's order")
			}
			if n := k.svc.Waiting(o.OrderNo); n != 0 {
				t.Fatalf("%d waiters left behind", n)
			}
		})
	})
}
