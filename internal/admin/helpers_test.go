package admin_test

import (
	"context"
	"fmt"
	"net/netip"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"campuspay/internal/admin"
	"campuspay/internal/billing"
	"campuspay/internal/store"
	"campuspay/internal/store/storetest"
	"campuspay/internal/throttle"
)

var ctx = context.Background()

// t0 is the tests' fixed clock start (a term start morning, Beijing).
var t0 = time.Date(2026, 8, 28, 1, 0, 0, 0, time.UTC)

// fixture is a store with two schools and a console service on it.
type fixture struct {
	s       *store.Store
	svc     *admin.Service
	a, b    billing.School // a: the seed school; b: another with one student
	now     func() time.Time
	move    func(time.Duration) time.Time
	locks   *fakeLocks
	secret  map[string]string // username → TOTP secret
	pw      map[string]string // username → current password
	prepped int64             // what an action's prep made
}

// other is the school that is not sc.
func (f *fixture) other(sc int64) int64 {
	if sc == f.a.ID {
		return f.b.ID
	}
	return f.a.ID
}

type fakeLocks struct {
	mu       sync.Mutex
	unlocked []string
}

func (f *fakeLocks) LoginLock(school, no string) (bool, time.Duration) { return true, time.Minute }
func (f *fakeLocks) UnlockLogin(school, no string) {
	f.mu.Lock()
	f.unlocked = append(f.unlocked, school+"/"+no)
	f.mu.Unlock()
}

func newFixture(t *testing.T, s *store.Store) *fixture {
	t.Helper()
	f := &fixture{s: s, locks: &fakeLocks{}, secret: map[string]string{}, pw: map[string]string{}}
	f.now, f.move = storetest.FixedClock(s, t0)
	f.svc = admin.New(s, admin.Config{Now: f.now, Locks: f.locks,
		Guard: throttle.NewGuard(throttle.GuardConfig{Now: throttle.Clock(f.now)})})
	f.a, _ = storetest.Seed(t, s)
	var err error
	f.b, err = s.CreateSchool(ctx, billing.School{Code: "S0002", Name: "另一所学院", RegionCode: "500000", RegionName: "重庆市", Policy: billing.DefaultPolicy()})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.ImportStudents(ctx, f.b.ID, storetest.Rows([]billing.StudentInput{{StudentNo: "B0001", Name: "赵六", Grade: "2026", Major: "建工", Class: "建工1班"}})); err != nil {
		t.Fatal(err)
	}
	if _, err := s.ImportBills(ctx, f.b.ID, "b", storetest.Rows([]billing.BillInput{{Line: 2, StudentNo: "B0001", Project: "学费", Item: "学费", Amount: 650000, Mandatory: true}}), func(int, string, string) {}); err != nil {
		t.Fatal(err)
	}
	return f
}

var userSeq atomic.Int64

// staff creates a staff member through the service (as the command line
// does) and returns their principal, as a login would make it.
func (f *fixture) staff(t *testing.T, role admin.Role, school int64) admin.Principal {
	t.Helper()
	name := fmt.Sprintf("%s%d", role, userSeq.Add(1))
	h, err := f.svc.CreateStaff(ctx, admin.System("cli"), admin.NewStaff{SchoolID: school, Role: role, Username: name, DisplayName: "测试" + string(role)})
	if err != nil {
		t.Fatalf("create %s: %v", name, err)
	}
	f.secret[name], f.pw[name] = h.Enrolment.Secret, h.Password
	p := admin.Principal{Staff: h.Staff, Client: "192.0.2.10"}
	if school != 0 {
		sc, err := f.s.SchoolByID(ctx, school)
		if err != nil {
			t.Fatal(err)
		}
		p.School = &sc
	}
	return p
}

// code is the TOTP code of a user now.
func (f *fixture) code(name string) string { return admin.TOTPCode(f.secret[name], f.now()) }

func client(n int) netip.Addr { return netip.AddrFrom4([4]byte{192, 0, 2, byte(n)}) }

// chainLen counts a chain's rows.
func (f *fixture) chainLen(t *testing.T, chain int64) int {
	t.Helper()
	return storetest.Count(t, f.s, "audit_log", "chain = $1", chain)
}
