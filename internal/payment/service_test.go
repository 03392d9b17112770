package payment_test

import (
	"errors"
	"net/http"
	"testing"
	"time"

	"campuspay/internal/apperr"
	"campuspay/internal/journal"
	"campuspay/internal/payment"
	"campuspay/internal/store"
	"campuspay/internal/store/storetest"
)

// notify hands the service a notification that the test channel decodes
// to r, addressed (by routing key) to merchant.
func (k *kit) notify(ch *testChannel, r payment.Result, merchant string) (payment.Notified, error) {
	ch.set(func(c *testChannel) { c.notice = r })
	return k.svc.HandleNotification(ctx, ch.name, http.Header{"X-Merchant": {merchant}}, []byte("body"), "notify")
}

func TestNotifications(t *testing.T) {
	every(t, func(t *testing.T, k *kit) {
		t.Run("a_notification_for_a_merchant_we_do_not_have_is_refused_unread", func(t *testing.T) {
			o := k.order(0, debitPay, fees...)
			before := storetest.Snap(t, k.s)
			_, err := k.notify(k.debit, k.success(o), "SOMEONE-ELSE")
			if apperr.HTTPStatus(err) != 422 || !errors.Is(err, payment.ErrBadNotification) {
				t.Fatalf("err %v", err)
			}
			storetest.Same(t, k.s, before)
			k.cancel(0, o)
		})
		t.Run("money_signed_by_another_school's_merchant_is_kept_in_suspense_not_applied", func(t *testing.T) {
			o := k.order(0, debitPay, fees...)
			r := k.success(o)
			r.MerchantID = "777290058119999"
			n, err := k.notify(k.debit, r, k.debit.merID)
			if err != nil || n.Outcome == nil || n.Outcome.Suspense != payment.SuspenseOtherMerchant || n.AckStatus != 200 {
				t.Fatalf("notified %+v %v", n, err)
			}
			if got := k.stored(o.OrderNo); got.Status != payment.StatusPaying {
				t.Fatalf("order %s", got.Status)
			}
			k.cancel(0, o)
		})
		t.Run("an_order_still_created_when_the_money_arrives_is_paid_not_lost", func(t *testing.T) {
			var orderNo string
			k.closer.set(func(c *testChannel) {
				c.onPrepare = func(req payment.PayRequest) {
					orderNo = req.OrderNo
					if got := k.stored(req.OrderNo); got.Status != payment.StatusCreated {
						t.Errorf("order %s while preparing", got.Status)
					}
					n, err := k.notify(k.closer, k.success(k.stored(req.OrderNo)), k.closer.merID)
					if err != nil || n.Outcome.Disposition != payment.Apply {
						t.Errorf("notified %+v %v", n, err)
					}
				}
			})
			if _, err := k.create(1, closePay, fees...); err != nil {
				t.Fatal(err)
			}
			k.closer.set(func(c *testChannel) { c.onPrepare = nil })
			if got := k.stored(orderNo); got.Status != payment.StatusPaid {
				t.Fatalf("order %s, want paid", got.Status)
			}
		})
		t.Run("a_failure_is_recorded_on_the_open_order_without_closing_it", func(t *testing.T) {
			o := k.order(2, debitPay, fees...)
			_, err := k.notify(k.debit, payment.Result{Channel: debitPay, OrderNo: o.OrderNo, Status: payment.TxnFailed,
				Failure: payment.FailWrongPIN, RespCode: "65", RespMsg: "密码错误"}, k.debit.merID)
			if err != nil {
				t.Fatal(err)
			}
			if got := k.stored(o.OrderNo); got.Status != payment.StatusPaying || got.FailureCode != payment.FailWrongPIN || got.FailureChannelCode != "65" {
				t.Fatalf("order %s %q %q", got.Status, got.FailureCode, got.FailureChannelCode)
			}
		})
	})
}

func TestClosedOrderOfAChannelThatCannotCloseIsStillQueried(t *testing.T) {
	every(t, func(t *testing.T, k *kit) {
		o := k.order(0, debitPay, fees...)
		k.cancel(0, o)
		if len(k.debit.closes) != 0 {
			t.Errorf("the service closed an order at a channel that cannot close")
		}
		final, err := k.svc.Settle(ctx, o.OrderNo)
		if err != nil || final {
			t.Fatalf("a closed order was given up at once: final=%v %v", final, err)
		}
		// The payer completes the payment on the channel's page after all,
		// and its notification is lost: the query finds it.
		k.debit.set(func(c *testChannel) { c.query = k.success(o) })
		final, err = k.svc.Settle(ctx, o.OrderNo)
		if err != nil || !final {
			t.Fatalf("final=%v %v", final, err)
		}
		if got := k.stored(o.OrderNo); got.Status != payment.StatusClosed || got.FailureCode != payment.FailOverpaid {
			t.Fatalf("order %s %q, want closed overpaid", got.Status, got.FailureCode)
		}
		if bal := storetest.Balance(t, k.s, journal.Overpayment(k.school.ID)); bal != -o.Amount {
			t.Fatalf("overpayment balance %v, want %v", bal, -o.Amount)
		}
		// Long after the hold, a closed order is not asked about any more.
		o2 := k.order(1, debitPay, fees...)
		k.debit.set(func(c *testChannel) { c.query = payment.Result{Status: payment.TxnNotFound} })
		k.cancel(1, o2)
		k.move(time.Hour)
		before := k.debit.queries
		if final, err := k.svc.Settle(ctx, o2.OrderNo); !final || err != nil || k.debit.queries != before {
			t.Fatalf("final=%v err=%v queries %d→%d", final, err, before, k.debit.queries)
		}
		storetest.JournalOK(t, k.s)
	})
}

// TestCloseAtTheChannel: a cancelled order of a channel that can close is
// closed there first; an expired one is closed there by its close job; if
// the channel refuses because it was paid meanwhile, the payment is kept.
func TestCloseAtTheChannel(t *testing.T) {
	every(t, func(t *testing.T, k *kit) {
		o := k.order(0, closePay, fees...)
		k.cancel(0, o)
		if len(k.closer.closes) != 1 || k.closer.closes[0] != o.OrderNo {
			t.Errorf("closes at the channel: %v", k.closer.closes)
		}
		if k.jobs(payment.JobClose, o.OrderNo) != 0 {
			t.Errorf("a close job for an order the channel closed already")
		}

		o2 := k.order(1, closePay, fees...)
		k.move(11 * time.Minute)
		k.order(1, debitPay, fees...) // releases the expired hold: close job for o2
		if k.jobs(payment.JobClose, o2.OrderNo) != 1 {
			t.Fatalf("no close job")
		}
		if err := k.svc.CloseAtChannel(ctx, o2.OrderNo); err != nil {
			t.Fatal(err)
		}
		if last := k.closer.closes[len(k.closer.closes)-1]; last != o2.OrderNo {
			t.Errorf("last close %s", last)
		}

		o3 := k.order(2, closePay, fees...)
		k.move(11 * time.Minute)
		k.closer.set(func(c *testChannel) { c.closeErr = errors.New("ORDER_PAID"); c.query = k.success(o3) })
		if done, err := k.svc.Expire(ctx, o3.OrderNo); err != nil || !done {
			t.Fatalf("expire: %v %v", done, err)
		}
		if got := k.stored(o3.OrderNo); got.Status != payment.StatusPaid {
			t.Errorf("an order paid just before its expiry is %s", got.Status)
		}
		storetest.JournalOK(t, k.s)
	})
}

func TestPaidOrderShowsNoFailure(t *testing.T) {
	every(t, func(t *testing.T, k *kit) {
		o := k.order(0, debitPay, fees...)
		k.notify(k.debit, payment.Result{Channel: debitPay, OrderNo: o.OrderNo, Status: payment.TxnFailed, Failure: payment.FailWrongPIN, RespCode: "65"}, k.debit.merID)
		if _, err := k.apply(k.success(o)); err != nil {
			t.Fatal(err)
		}
		got := k.stored(o.OrderNo)
		if got.FailureCode != "" || payment.Explain(got) != nil {
			t.Fatalf("paid order still explains a failure: %q", got.FailureCode)
		}
	})
}

func TestRefundRetryAsksFirst(t *testing.T) {
	every(t, func(t *testing.T, k *kit) {
		o := k.order(0, debitPay, fees...)
		r := k.success(o)
		r.CardType = payment.CardCredit
		out, err := k.apply(r)
		if err != nil {
			t.Fatal(err)
		}
		k.debit.set(func(c *testChannel) { c.refundQuery = payment.RefundResult{Status: payment.RefundPending} })
		if final, err := k.svc.PayRefund(ctx, out.RefundNo, true); final || err != nil || k.debit.refunds != 0 {
			t.Fatalf("pending at the channel: final=%v err=%v sent %d", final, err, k.debit.refunds)
		}
		k.debit.set(func(c *testChannel) { c.refundQuery = payment.RefundResult{Status: payment.RefundNotFound} })
		if final, err := k.svc.PayRefund(ctx, out.RefundNo, true); !final || err != nil || k.debit.refunds != 1 {
			t.Fatalf("a refund the channel never took: final=%v err=%v, sent %d times, want 1", final, err, k.debit.refunds)
		}
		storetest.JournalOK(t, k.s)
	})
}

// TestJobsSurviveDatabaseHiccups: an order that does not exist ends its
// jobs; a database that cannot be read does not (the job is retried).
func TestJobsSurviveDatabaseHiccups(t *testing.T) {
	k := newKit(t, storetest.Open(t, store.SQLite))
	if final, err := k.svc.Settle(ctx, "CP00000000000000000000"); !final || err == nil {
		t.Fatalf("unknown order: final=%v err=%v, want final with an error", final, err)
	}
	o := k.order(0, debitPay, fees...)
	k.s.Close()
	for name, run := range map[string]func(string) (bool, error){
		"settle": func(no string) (bool, error) { return k.svc.Settle(ctx, no) },
		"expire": func(no string) (bool, error) { return k.svc.Expire(ctx, no) },
	} {
		if final, err := run(o.OrderNo); final || err == nil {
			t.Errorf("%s with the database down: final=%v err=%v, want a retry", name, final, err)
		}
	}
}

// TestExpiredOrderOfAChannelThatCannotCloseIsStillAskedAbout: when the
// query job finds the hold over and closes the order itself, it keeps
// asking for a while, so a payment made just before the channel's own
// timeout whose notification was lost is still recorded.
func TestExpiredOrderOfAChannelThatCannotCloseIsStillAskedAbout(t *testing.T) {
	every(t, func(t *testing.T, k *kit) {
		o := k.order(0, debitPay, fees...)
		k.move(o.ExpiresAt.Sub(k.now()) + time.Second)
		k.debit.set(func(c *testChannel) { c.query = payment.Result{Status: payment.TxnNotFound} })
		final, err := k.svc.Settle(ctx, o.OrderNo)
		if err != nil || final {
			t.Fatalf("expiry by the query job: final=%v err=%v, want closed and still asked about", final, err)
		}
		if got := k.stored(o.OrderNo); got.Status != payment.StatusClosed || got.FailureCode != payment.FailExpired {
			t.Fatalf("order %s %q", got.Status, got.FailureCode)
		}
		k.debit.set(func(c *testChannel) { c.query = k.success(o) })
		if final, err := k.svc.Settle(ctx, o.OrderNo); err != nil || !final {
			t.Fatalf("late success: final=%v err=%v", final, err)
		}
		if n, _ := k.s.CountPayments(ctx); n[string(payment.Overpay)] != 1 {
			t.Fatalf("payments %v, want the late success kept as an overpayment", n)
		}
	})
}

// TestNotificationWhenTheDatabaseIsDown: a database failure answers an
// internal error (the channel retries) and applies nothing; never a
// not-found or a refusal.
func TestNotificationWhenTheDatabaseIsDown(t *testing.T) {
	k := newKit(t, storetest.Open(t, store.SQLite))
	o := k.order(0, debitPay, fees...)
	k.s.Close()
	_, err := k.notify(k.debit, k.success(o), k.debit.merID)
	if err == nil || apperr.HTTPStatus(err) != 500 {
		t.Fatalf("err %v (status %d), want 500", err, apperr.HTTPStatus(err))
	}
}
