package store_test

import (
	"strings"
	"testing"

	"campuspay/internal/payment"
	"campuspay/internal/store"
	"campuspay/internal/store/storetest"
)

// TestReimportAfterWaiver: a bill file compares with what was billed, not
// with what a waiver left owed: the same file again changes nothing (the
// waiver stays); a new amount keeps the waiver off it; an amount below
// what was waived is refused with its line.
func TestReimportAfterWaiver(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		x := seed(t, s)
		dorm := x.lines(t, 0)[storetest.ItemDorm]
		if err := s.OfficeUpdate(ctx, func(tx payment.OfficeTx) error {
			l, err := tx.LockLine(ctx, dorm.ID)
			if err != nil {
				return err
			}
			return payment.Waive(tx, l, 20000, "test", "减免")
		}); err != nil {
			t.Fatal(err)
		}
		before := snap(t, s)
		if st, probs := importBills(t, x, "again", storetest.SeedBills()); st.Unchanged != len(storetest.SeedBills()) || len(probs) > 0 {
			t.Fatalf("the same file after a waiver: %+v %v", st, probs)
		}
		sameSnap(t, s, before)
		if l := x.lines(t, 0)[storetest.ItemDorm]; l.Amount != storetest.Dorm-20000 || l.Billed() != storetest.Dorm {
			t.Fatalf("dorm after re-import: %+v", l)
		}
		if st, probs := importBills(t, x, "raise", withAmount(0, storetest.ItemDorm, 150000)); st.Updated != 1 || len(probs) > 0 {
			t.Fatalf("a new amount: %+v %v", st, probs)
		}
		if l := x.lines(t, 0)[storetest.ItemDorm]; l.Amount != 130000 || l.Waived != 20000 {
			t.Fatalf("dorm after a new amount: %+v", l)
		}
		_, probs := importBills(t, x, "below", withAmount(0, storetest.ItemDorm, 10000))
		if len(probs) != 1 || !strings.Contains(probs[0].reason, "已减免或退费 200.00 元") {
			t.Fatalf("an amount below the waiver: %+v", probs)
		}
		journalOK(t, s)
	})
}
