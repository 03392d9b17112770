package store_test

import (
	"testing"
	"time"

	"campuspay/internal/account"
	"campuspay/internal/apperr"
	"campuspay/internal/sms"
	"campuspay/internal/store"
	"campuspay/internal/store/storetest"
)

func TestAccountStore(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		x := seed(t, s)
		var a, b account.Account
		t.Run("an account is made once per phone", func(t *testing.T) {
			if err := s.AccountTx(ctx, func(tx account.Tx) error {
				var created bool
				var err error
				if a, created, err = tx.EnsureAccount(ctx, "13900000001"); err != nil || !created {
					t.Fatalf("first: %+v %v %v", a, created, err)
				}
				again, created, err := tx.EnsureAccount(ctx, "13900000001")
				if err != nil || created || again.ID != a.ID {
					t.Fatalf("second: %+v %v %v", again, created, err)
				}
				b, _, err = tx.EnsureAccount(ctx, "13900000002")
				return err
			}); err != nil {
				t.Fatal(err)
			}
		})
		t.Run("moving to a phone another account has is phone_taken and changes nothing", func(t *testing.T) {
			err := s.AccountTx(ctx, func(tx account.Tx) error {
				tx.SetAccountPhone(a.ID, b.Phone)
				return nil
			})
			if e, ok := apperr.As(err); !ok || e.Code != account.CodePhoneTaken {
				t.Fatalf("got %v, want phone_taken", err)
			}
			if got, _ := s.AccountByID(ctx, a.ID); got.Phone != "13900000001" {
				t.Errorf("phone is %s after the refusal", got.Phone)
			}
		})
		t.Run("a send is recorded with its code and undone whole", func(t *testing.T) {
			at := time.UnixMilli(time.Now().UnixMilli())
			if err := s.AccountTx(ctx, func(tx account.Tx) error {
				if _, err := tx.LockSMSPhone(ctx, "13900000009", at.Add(-time.Hour)); err != nil {
					return err
				}
				tx.RecordSMSSend("13900000009", sms.PurposeLogin, account.Code{Issued: sms.Issued{Hash: "h", IssuedAt: at}}, at.Add(-time.Hour))
				return nil
			}); err != nil {
				t.Fatal(err)
			}
			if n := storetest.Count(t, s, "sms_codes", "phone = $1", "13900000009"); n != 1 {
				t.Fatalf("%d codes", n)
			}
			if err := s.UndoSMSSend(ctx, "13900000009", sms.PurposeLogin, at); err != nil {
				t.Fatal(err)
			}
			if n := storetest.Count(t, s, "sms_sends", "phone = $1", "13900000009") + storetest.Count(t, s, "sms_codes", "phone = $1", "13900000009"); n != 0 {
				t.Errorf("%d rows left after the undo", n)
			}
		})
		t.Run("a wrong try is never counted past the limit", func(t *testing.T) {
			at := time.UnixMilli(time.Now().UnixMilli())
			if err := s.AccountTx(ctx, func(tx account.Tx) error {
				tx.RecordSMSSend("13900000008", sms.PurposeLogin, account.Code{Issued: sms.Issued{Hash: "h", IssuedAt: at}}, at)
				return nil
			}); err != nil {
				t.Fatal(err)
			}
			for i := 1; i <= 3; i++ {
				err := s.AccountTx(ctx, func(tx account.Tx) error {
					tx.CountSMSTry("13900000008", sms.PurposeLogin, 2)
					return nil
				})
				if (i <= 2) != (err == nil) {
					t.Fatalf("try %d of at most 2: %v", i, err)
				}
			}
		})
		t.Run("bindings are the account's own", func(t *testing.T) {
			if err := s.AccountTx(ctx, func(tx account.Tx) error {
				tx.InsertBinding(a.ID, x.students[0].ID)
				tx.InsertBinding(a.ID, x.students[2].ID)
				tx.InsertBinding(b.ID, x.students[1].ID)
				return nil
			}); err != nil {
				t.Fatal(err)
			}
			bs, err := s.Bindings(ctx, a.ID)
			if err != nil || len(bs) != 2 || bs[0].Student.ID != x.students[0].ID || bs[0].School.Code != storetest.SchoolCode {
				t.Fatalf("bindings %+v %v", bs, err)
			}
			if _, err := s.Binding(ctx, a.ID, x.students[1].ID); apperr.CodeOf(err) != apperr.CodeNotFound {
				t.Errorf("another account's student: %v", err)
			}
			if ok, err := s.Unbind(ctx, a.ID, x.students[1].ID); ok || err != nil {
				t.Errorf("unbinding another account's student: %v %v", ok, err)
			}
			// The finance office sees which phones a student is bound to.
			if sb, err := s.StudentBindings(ctx, x.students[1].ID); err != nil || len(sb) != 1 || sb[0].Phone != b.Phone || sb[0].CreatedAt.IsZero() {
				t.Errorf("student 1's bindings %+v %v, want account b's phone", sb, err)
			}
			if sb, err := s.StudentBindings(ctx, x.students[0].ID); err != nil || len(sb) != 1 || sb[0].Phone != a.Phone {
				t.Errorf("student 0's bindings %+v %v, want account a's phone", sb, err)
			}
		})
	})
}
