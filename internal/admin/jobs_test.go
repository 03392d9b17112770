package admin_test

import (
	"testing"
	"time"

	"campuspay/internal/admin"
	"campuspay/internal/apperr"
	"campuspay/internal/audit"
	"campuspay/internal/payment"
	"campuspay/internal/store"
	"campuspay/internal/store/storetest"
)

// A job the worker gave up is listed for the platform's operators with
// its last error, and one of them can run it again (audited); nobody of
// a school can do either, and a job that is not dead cannot be revived.
func TestDeadJobs(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		f := newFixture(t, s)
		op := f.staff(t, admin.RoleOperator, 0)
		if err := s.Update(ctx, func(tx payment.Tx) error {
			tx.Enqueue(payment.JobRefund, "RF20260828000000000001", f.now())
			tx.Enqueue(payment.JobQuery, "CP20260828000000000001", f.now())
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		claimed, err := s.Claim(ctx, "w1", 10, time.Minute)
		if err != nil || len(claimed) != 2 {
			t.Fatalf("claimed %v %v", claimed, err)
		}
		var refund, query = claimed[0], claimed[1]
		if refund.Kind != payment.JobRefund {
			refund, query = query, refund
		}
		if err := s.Bury(ctx, refund, "channel: certificate expired"); err != nil {
			t.Fatal(err)
		}

		for _, role := range []admin.Role{admin.RoleAdmin, admin.RoleClerk, admin.RoleAuditor} {
			p := f.staff(t, role, f.a.ID)
			if _, err := f.svc.DeadJobs(ctx, p); apperr.CodeOf(err) != admin.CodeForbidden {
				t.Errorf("%s lists dead jobs: %v", role, err)
			}
			if err := f.svc.ReviveJob(ctx, p, refund.ID); apperr.CodeOf(err) != admin.CodeForbidden {
				t.Errorf("%s revives a job: %v", role, err)
			}
		}

		dead, err := f.svc.DeadJobs(ctx, op)
		if err != nil {
			t.Fatal(err)
		}
		if len(dead) != 1 || dead[0].ID != refund.ID || dead[0].Kind != payment.JobRefund || dead[0].Attempts != 1 ||
			dead[0].LastError != "channel: certificate expired" || dead[0].DeadAt.IsZero() {
			t.Fatalf("dead jobs %+v", dead)
		}
		if err := f.svc.ReviveJob(ctx, op, query.ID); apperr.CodeOf(err) != admin.CodeJobNotDead {
			t.Errorf("a job that is not dead revived: %v", err)
		}

		chain := f.chainLen(t, audit.PlatformChain)
		if err := f.svc.ReviveJob(ctx, op, refund.ID); err != nil {
			t.Fatal(err)
		}
		if got := f.chainLen(t, audit.PlatformChain); got != chain+1 {
			t.Errorf("platform chain %d → %d rows, want one more", chain, got)
		}
		if n := storetest.Count(t, s, "audit_log", "action = $1", admin.ActJobRevive); n != 1 {
			t.Errorf("%d revive rows in the audit log", n)
		}
		if dead, err := f.svc.DeadJobs(ctx, op); err != nil || len(dead) != 0 {
			t.Errorf("after reviving: %+v %v", dead, err)
		}
		if err := f.svc.ReviveJob(ctx, op, refund.ID); apperr.CodeOf(err) != admin.CodeJobNotDead {
			t.Errorf("revived twice: %v", err)
		}
		// The revived job is due again with its attempts counted afresh;
		// the other is still leased to w1.
		again, err := s.Claim(ctx, "w2", 10, time.Minute)
		if err != nil || len(again) != 1 || again[0].ID != refund.ID || again[0].Attempts != 1 {
			t.Fatalf("claimed after reviving: %+v %v", again, err)
		}
	})
}
