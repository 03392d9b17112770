package e2e

import (
	"context"
	"fmt"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"

	"campuspay/internal/app"
	"campuspay/internal/payment"
	"campuspay/internal/store"
)

// journalVerifyCLI runs `campuspay journal verify --db DSN` and wants exit 0.
func journalVerifyCLI(t testing.TB, dsn string) {
	t.Helper()
	out, err := exec.Command(binPath, "journal", "verify", "--db", dsn).CombinedOutput()
	if err != nil {
		t.Fatalf("campuspay journal verify: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), "journal OK") {
		t.Fatalf("journal verify output:\n%s", out)
	}
}

// TestCrashRecovery (I5): the sandbox and the server run as separate
// processes; the sandbox takes the money but holds the notification back;
// the server is SIGKILLed before it handles it and restarted on the same
// database. Both orders end paid — one through the retried notification,
// one (the no-notify card) through the worker's query — lines paid once,
// and `campuspay journal verify` exits 0.
func TestCrashRecovery(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	dsn := "sqlite:" + dir + "/campuspay.db"
	seedDemo(t, dsn)
	sbPort, srvPort := freePort(t), freePort(t)
	sbURL := fmt.Sprintf("http://127.0.0.1:%d", sbPort)
	srvURL := fmt.Sprintf("http://127.0.0.1:%d", srvPort)
	start(t, sbURL, "sandbox", "--addr", fmt.Sprintf("127.0.0.1:%d", sbPort), "--keys", keysDir, "--time-scale", "0.01")
	// The first query is late enough that only the notification or the
	// restarted worker can settle the orders.
	serveArgs := []string{"serve", "--addr", fmt.Sprintf("127.0.0.1:%d", srvPort), "--db", dsn, "--sandbox-url", sbURL, "--sandbox-keys", keysDir,
		"--first-query", "4s", "--query-interval", "300ms", "--query-max-interval", "1s", "--worker-poll", "100ms"}
	srv := start(t, srvURL, serveArgs...)

	c1 := login(t, srvURL, app.DemoSchool, "2026010011")
	c2 := login(t, srvURL, app.DemoSchool, "2026010012")
	c1.sbox, c2.sbox = sbURL, sbURL
	ids1, total1 := c1.bills().mandatory()
	ids2, total2 := c2.bills().mandatory()
	o1 := c1.mustCreate(ids1, "unionpay")
	o2 := c2.mustCreate(ids2, "unionpay")
	setSwitches(t, sbURL, map[string]any{"delay_ms": 1500, "time_scale": 0.01})
	if code := c1.payUnionPay(o1, cardICBC); code != "00" {
		t.Fatalf("pay 1: %s", code)
	}
	if code := c2.payUnionPay(o2, cardNoNotify); code != "00" {
		t.Fatalf("pay 2: %s", code)
	}
	srv.kill(t) // SIGKILL, within the notification's 1.5 s delay
	if got := notifications(t, sbURL, o1.OrderNo); len(got) != 0 {
		t.Fatalf("the notification was delivered before the crash: %+v", got)
	}
	start(t, srvURL, serveArgs...)
	t0 := time.Now()
	c1.waitPaid(o1.OrderNo)
	c2.waitPaid(o2.OrderNo)
	t.Logf("both orders paid %v after restart", time.Since(t0).Round(time.Millisecond))
	// Order 1 was recorded once, by whichever came first after the
	// restart: its retried notification (then one was accepted) or the
	// worker's query; order 2 (no notification) only by the query.
	var delivered bool
	for _, n := range notifications(t, sbURL, o1.OrderNo) {
		delivered = delivered || n.ResponseStatus == 200
	}
	for no, want := range map[string][]string{o1.OrderNo: {"notify", "query"}, o2.OrderNo: {"query"}} {
		sources := paymentSources(t, dsn, no)
		if len(sources) != 1 || !slices.Contains(want, sources[0]) {
			t.Fatalf("order %s recorded %v, want one payment by %v", no, sources, want)
		}
		if no == o1.OrderNo && sources[0] == "notify" && !delivered {
			t.Fatalf("order 1 recorded by a notification the sandbox never saw accepted")
		}
	}
	for _, c := range []struct {
		cl    *client
		ids   []int64
		total int64
		no    string
	}{{c1, ids1, total1, o1.OrderNo}, {c2, ids2, total2, o2.OrderNo}} {
		b := c.cl.bills()
		var paid int64
		for _, id := range c.ids {
			it := b.item(id)
			if it.PaidAmount != it.Amount {
				t.Fatalf("line %d paid %d of %d", id, it.PaidAmount, it.Amount)
			}
			paid += it.PaidAmount
		}
		if paid != c.total {
			t.Fatalf("order %s: paid %d, want %d", c.no, paid, c.total)
		}
	}
	ctx := context.Background()
	st, err := store.Open(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	for _, no := range []string{o1.OrderNo, o2.OrderNo} {
		if s := snap(t, st, no); s.payments != 1 || s.entries != 1 || s.status != "paid" {
			t.Fatalf("order %s after crash: %+v", no, s)
		}
		assertTransitionsOnce(t, st, no, payment.StatusPaid)
	}
	journalVerifyCLI(t, dsn)
}

// assertTransitionsOnce checks I3 for one order: created → paying → final,
// each transition recorded exactly once, and no other state change.
func assertTransitionsOnce(t testing.TB, st *store.Store, orderNo string, final payment.Status) {
	t.Helper()
	ev, err := st.OrderEvents(context.Background(), orderNo)
	if err != nil {
		t.Fatal(err)
	}
	want := []payment.Status{payment.StatusCreated, payment.StatusPaying, final}
	var got []payment.Status
	for _, e := range ev {
		if e.From != e.To {
			got = append(got, e.To)
		}
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("order %s transitions %v, want %v (events %+v)", orderNo, got, want, ev)
	}
}

// paymentSources lists how an order's payments were recorded ("notify",
// "front", "query"), read from the database the server left.
func paymentSources(t *testing.T, dsn, orderNo string) []string {
	t.Helper()
	st, err := store.Open(context.Background(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	rows, err := st.DB().Query(`SELECT p.source FROM payments_received p JOIN orders o ON o.id = p.order_id WHERE o.order_no = $1`, orderNo)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			t.Fatal(err)
		}
		out = append(out, s)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}
