package loadtest

import (
	"fmt"
	"io"
	"runtime"
	"strings"
	"time"

	"campuspay/internal/money"
)

// Report is what a run measured and checked.
type Report struct {
	Config            Config
	TempDB            bool // the database was a temporary SQLite file
	Logins            int64
	Launched, Dropped int64 // pay flows started, and (open loop) dropped
	FlowsPaid         int64 // flows that reached "paid" in the window
	FlowErrors        int64
	StormLogins       int64
	LoginTime, Window time.Duration
	Starved           int64 // flows due after every student had paid everything

	Hist       *[numSteps]Histogram
	Errors     []errorCount
	ErrorTotal int64
	NoIDField  bool // the server refused id_card_last6 in the password change

	// CPU over the window, per process; Known says it was measured.
	ServerCPU, SandboxCPU, PostgresCPU, SelfCPU       time.Duration
	ServerCPUKnown, SandboxCPUKnown, PostgresCPUKnown bool
	Statements, Transactions                          float64 // server counters' deltas
	DBCountersKnown                                   bool
	PeakRSS                                           []namedBytes
	RSSSamples                                        []int64 // the servers' resident set, once a second over the pay phase
	Profiles                                          []string

	Violations                     []string
	StudentsChecked, OrdersChecked int
	LatePaid                       int64 // orders seen paid only while settling
	SandboxDelta, SandboxCount     int64 // captured during the run (fen, count)
	PlatformTotal                  int64 // Σ amounts of the orders the run saw paid
	TotalsKnown                    bool
	JournalChecked, JournalOK      bool

	TxnSerial, TxnParallel, SignRate float64 // per second
	HashRate                         float64 // argon2id password hashes per second on all cores
	CeilingNotes                     []string
}

type namedBytes struct {
	name string
	n    int64
}

// usage fills the CPU and counter figures from two snapshots.
func (r *Report) usage(a, b snap, serverPIDs []int, sandbox *child, postgres bool) {
	r.ServerCPU, r.ServerCPUKnown = b.server-a.server, a.serverOK && b.serverOK
	r.SandboxCPU, r.SandboxCPUKnown = b.sandbox-a.sandbox, a.sandboxOK && b.sandboxOK
	r.PostgresCPU, r.PostgresCPUKnown = b.postgres-a.postgres, postgres && a.pgOK && b.pgOK
	r.SelfCPU = b.self - a.self
	if a.db.ok && b.db.ok {
		r.Statements, r.Transactions, r.DBCountersKnown = b.db.statements-a.db.statements, b.db.transactions-a.db.transactions, true
	}
}

// FlowsPerS is paid flows per second over the measured window.
func (r *Report) FlowsPerS() float64 {
	if r.Window <= 0 {
		return 0
	}
	return float64(r.FlowsPaid) / r.Window.Seconds()
}

// LoginsPerS is the login phase's rate (login and password change).
func (r *Report) LoginsPerS() float64 {
	if r.LoginTime <= 0 {
		return 0
	}
	return float64(r.Logins) / r.LoginTime.Seconds()
}

// LoginBound is the first logins per second the measured argon2id rate
// allows at best (0 when not measured).
func (r *Report) LoginBound() float64 { return r.HashRate / HashesPerFirstLogin }

// StormSlowdown is the pay flows' p99 when they started during the login
// storm over their p99 before it (0 without a storm or flows in both).
func (r *Report) StormSlowdown() float64 {
	calm, storm := &r.Hist[stepFlowCalm], &r.Hist[stepFlowStorm]
	if calm.Count() == 0 || storm.Count() == 0 || calm.Quantile(0.99) <= 0 {
		return 0
	}
	return float64(storm.Quantile(0.99)) / float64(calm.Quantile(0.99))
}

// TxnBound and SignBound are the flows/s the database and the CPU's RSA
// signing allow at best (0 when not measured).
func (r *Report) TxnBound() float64  { return max(r.TxnSerial, r.TxnParallel) / TxnsPerFlow }
func (r *Report) SignBound() float64 { return r.SignRate / SignsPerFlow }

// Ceiling is the smaller of the measured bounds.
func (r *Report) Ceiling() float64 {
	t, s := r.TxnBound(), r.SignBound()
	switch {
	case t == 0:
		return s
	case s == 0:
		return t
	}
	return min(t, s)
}

// Ratio is achieved flows/s over the ceiling.
func (r *Report) Ratio() float64 {
	if c := r.Ceiling(); c > 0 {
		return r.FlowsPerS() / c
	}
	return 0
}

func (r *Report) perFlow(d time.Duration) float64 {
	return float64(d.Microseconds()) / 1000 / float64(r.FlowsPaid)
}

// PlatformCPUPerFlow is the platform processes' CPU ms per paid flow; -1
// when not measured (no flows, or --target without --server-pids).
func (r *Report) PlatformCPUPerFlow() float64 {
	if !r.ServerCPUKnown || r.FlowsPaid == 0 {
		return -1
	}
	return r.perFlow(r.ServerCPU)
}

// LastLine is the report's last line, for scripts: numbers only, -1 for
// a figure that was not measured.
func (r *Report) LastLine() string {
	return fmt.Sprintf("loadtest: flows_per_s=%.1f ceiling_flows_per_s=%.1f ratio=%.3f platform_cpu_ms_per_flow=%.2f p99_order_ms=%.1f logins_per_s=%.1f violations=%d",
		r.FlowsPerS(), r.Ceiling(), r.Ratio(), r.PlatformCPUPerFlow(), ms(r.Hist[stepOrder].Quantile(0.99)), r.LoginsPerS(), len(r.Violations))
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// Write prints the report.
func (r *Report) Write(w io.Writer) {
	c := r.Config
	p := func(format string, a ...any) { fmt.Fprintf(w, format+"\n", a...) }
	p("")
	p("campuspay loadtest")
	db := c.DB
	if r.TempDB {
		db += " (temporary)"
	} else if db == "" {
		db = "unknown"
	}
	p("  servers      %s; sandbox %s", strings.Join(c.Targets, ", "), c.SandboxURL)
	p("  database     %s", redact(db))
	p("  school       %s: %d students, %d items each in %d projects (at most %d pay flows)", c.School, c.Students, c.Items, c.Projects, c.Students*c.Projects)
	if c.Rate > 0 {
		p("  load         open loop: %.1f flows/s for %v, at most %d in flight (%d started, %d dropped)", c.Rate, c.Duration, c.MaxInFlight, r.Launched, r.Dropped)
	} else {
		p("  load         closed loop: %d students paying back to back for %v", c.Concurrency, c.Duration)
	}
	how := fmt.Sprintf("%d at once", c.LoginConcurrency)
	if c.LoginRate > 0 {
		how = fmt.Sprintf("open loop at %.1f/s", c.LoginRate)
	}
	p("  logins       %d in %.1f s = %.1f/s (%s; login + initial password change)", r.Logins, r.LoginTime.Seconds(), r.LoginsPerS(), how)
	if b := r.LoginBound(); b > 0 {
		p("               argon2id %.1f ms CPU per hash (measured right after the logins) → %d cores allow %.1f hashes/s; %d per first login → %.1f logins/s; achieved %.2f of it",
			float64(runtime.NumCPU())*1000/r.HashRate, runtime.NumCPU(), r.HashRate, HashesPerFirstLogin, b, r.LoginsPerS()/b)
	}
	if c.LoginStorm {
		p("  login storm  %d fresh students logged in during the second half of the pay phase", r.StormLogins)
		if x := r.StormSlowdown(); x > 0 {
			p("               pay flow p99 %.1f ms before the storm, %.1f ms during it = %.2f×",
				ms(r.Hist[stepFlowCalm].Quantile(0.99)), ms(r.Hist[stepFlowStorm].Quantile(0.99)), x)
		}
	}
	if r.NoIDField {
		p("  note         the server refused id_card_last6 in the password change; sent without it")
	}
	p("")
	p("pay flows (order created → paid)")
	p("  %d paid in %.1f s = %.1f flows/s; %d failed", r.FlowsPaid, r.Window.Seconds(), r.FlowsPerS(), r.FlowErrors)
	if r.Starved > 0 {
		p("  WARNING: every student had paid everything before the end (%d flows found nobody): flows/s understates; use more --students or --projects", r.Starved)
	}
	p("")
	p("latency (ms)        count      p50      p95      p99    p99.9      max")
	for i := range numSteps {
		h := &r.Hist[i]
		if h.Count() == 0 && i >= stepStormLogin {
			continue
		}
		p("  %-14s %8d %8.1f %8.1f %8.1f %8.1f %8.1f", stepNames[i], h.Count(), ms(h.Quantile(0.5)), ms(h.Quantile(0.95)),
			ms(h.Quantile(0.99)), ms(h.Quantile(0.999)), ms(h.Max()))
	}
	p("")
	p("errors by code (step:code)")
	if len(r.Errors) == 0 {
		p("  none")
	}
	for _, e := range r.Errors {
		p("  %-40s %d", e.Key, e.N)
	}
	p("")
	p("cost per paid flow over the window")
	rss := map[string]int64{}
	for _, b := range r.PeakRSS {
		name := b.name
		if strings.HasPrefix(name, "server") { // server1, server2…: the largest
			name = "server"
		}
		rss[name] = max(rss[name], b.n)
	}
	line := func(name string, d time.Duration, known bool, rssName string) {
		s := "n/a"
		if known && r.FlowsPaid > 0 {
			s = fmt.Sprintf("%.2f ms CPU (%.0f%% of one core)", r.perFlow(d), 100*d.Seconds()/r.Window.Seconds())
		}
		if b, ok := rss[rssName]; ok {
			s += fmt.Sprintf("; peak RSS %.1f MiB", float64(b)/(1<<20))
		}
		p("  %-22s %s", name, s)
	}
	if c.LoginStorm {
		p("  (the login storm's CPU is included)")
	}
	if n := len(r.RSSSamples); n >= 4 {
		mib := func(b int64) float64 { return float64(b) / (1 << 20) }
		p("  server RSS over the pay phase: %.1f MiB at the start, %.1f at a quarter, %.1f at half, %.1f at the end",
			mib(r.RSSSamples[0]), mib(r.RSSSamples[n/4]), mib(r.RSSSamples[n/2]), mib(r.RSSSamples[n-1]))
	}
	line("platform server(s)", r.ServerCPU, r.ServerCPUKnown, "server")
	line("sandbox", r.SandboxCPU, r.SandboxCPUKnown, "sandbox")
	line("postgres (all local)", r.PostgresCPU, r.PostgresCPUKnown, "")
	line("load generator", r.SelfCPU, true, "")
	if r.DBCountersKnown && r.FlowsPaid > 0 {
		p("  %-22s %.1f", "db statements", r.Statements/float64(r.FlowsPaid))
		p("  %-22s %.2f", "durable transactions", r.Transactions/float64(r.FlowsPaid))
	} else {
		p("  %-22s n/a", "db statements")
		p("  %-22s n/a", "durable transactions")
	}
	for _, f := range r.Profiles {
		p("  cpu profile            %s", f)
	}
	p("")
	p("invariants")
	ok := func(b bool) string {
		if b {
			return "ok"
		}
		return "FAILED"
	}
	itemsOK := true
	for _, v := range r.Violations {
		if strings.HasPrefix(v, "student ") {
			itemsOK = false
		}
	}
	p("  no item paid twice; paid orders paid once   %s (%d students, %d paid orders, %d settled late)", ok(itemsOK), r.StudentsChecked, r.OrdersChecked, r.LatePaid)
	if r.JournalChecked {
		p("  campuspay journal verify                    %s", ok(r.JournalOK))
	} else {
		p("  campuspay journal verify                    n/a (no --db)")
	}
	if r.TotalsKnown {
		p("  sandbox captured = platform received        %s (¥%s captured in %d payments, ¥%s received)", ok(r.SandboxDelta == r.PlatformTotal),
			money.Fen(r.SandboxDelta).Yuan(), r.SandboxCount, money.Fen(r.PlatformTotal).Yuan())
	} else {
		p("  sandbox captured = platform received        n/a (the sandbox has no totals helper)")
	}
	p("  violations: %d", len(r.Violations))
	for i, v := range r.Violations {
		if i == 10 {
			p("  … and %d more", len(r.Violations)-10)
			break
		}
		p("  - %s", v)
	}
	p("")
	p("ceiling (this machine, measured in this run after the load)")
	if r.TxnSerial > 0 || r.TxnParallel > 0 {
		p("  raw single-row transactions  %.0f/s serial, %.0f/s with 16 in flight; %d per flow → %.0f flows/s",
			r.TxnSerial, r.TxnParallel, TxnsPerFlow, r.TxnBound())
	} else {
		p("  raw single-row transactions  n/a")
	}
	p("  RSA-2048 signatures          %.0f/s on %d cores (best 250 ms); %d per flow → %.0f flows/s", r.SignRate, runtime.NumCPU(), SignsPerFlow, r.SignBound())
	for _, n := range r.CeilingNotes {
		p("  note: %s", n)
	}
	p("  ceiling %.0f flows/s; achieved %.1f flows/s = %.3f of it", r.Ceiling(), r.FlowsPerS(), r.Ratio())
	p("")
	p("%s", r.LastLine())
}

// redact hides a password in a DSN.
func redact(dsn string) string {
	at := strings.LastIndexByte(dsn, '@')
	scheme := strings.Index(dsn, "://")
	if at < 0 || scheme < 0 || at < scheme {
		return dsn
	}
	userinfo := dsn[scheme+3 : at]
	if i := strings.IndexByte(userinfo, ':'); i >= 0 {
		return dsn[:scheme+3] + userinfo[:i] + ":xxxxx" + dsn[at:]
	}
	return dsn
}
