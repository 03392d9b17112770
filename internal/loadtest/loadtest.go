// Package loadtest is `campuspay loadtest`, the semester-start load
// generator: a synthetic school, students driven through the real HTTP API
// and the sandbox's test helpers (log in, change the initial password,
// read the bills, order, post the gateway form, pay, wait for "paid"), the
// latency of every step, the CPU each process spent per flow, the
// invariants checked afterwards, and the machine's ceiling measured in the
// same run, so that a figure always comes with its ratio.
package loadtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Config is one load test.
type Config struct {
	// Binary is the campuspay executable that serves, runs the sandbox and
	// runs the CLI commands (the CLI passes os.Executable()).
	Binary string

	Students int           // the roll's size
	Items    int           // bill items per student
	Projects int           // fee projects the items are spread over; one pay flow per project
	Duration time.Duration // the measured pay phase

	Rate        float64 // open loop: pay flows started per second; 0 = closed loop
	Concurrency int     // closed loop: students paying back to back
	MaxInFlight int64   // open loop: flows due beyond this many in flight are dropped

	LoginRate        float64 // logins started per second; 0 = as fast as LoginConcurrency allows
	LoginConcurrency int     // logins at once when LoginRate is 0
	LoginStorm       bool    // keep half the roll for logins during the pay phase's second half

	DB           string   // DSN; empty with no Targets: a fresh SQLite file
	Targets      []string // running servers to drive instead of starting our own
	SandboxURL   string   // with Targets: where the sandbox is
	School       string   // the school's code; with Targets it must exist unless Prepare
	Prepare      bool     // with Targets: create the school through the CLI against DB
	ServerPIDs   []int    // with Targets: the platform's processes, for CPU per flow
	MetricsToken string   // bearer token for /metrics
	PprofDir     string   // where to save the servers' CPU profiles, when they serve them
	Servers      int      // serve processes this run starts on the one --db (default 1); students are spread over them

	TimeScale    float64       // the sandbox's notification retry schedule (our own sandbox)
	PayTimeout   time.Duration // longest wait for "paid" after the payment
	PollInterval time.Duration // between two looks at the order
	CeilingTime  time.Duration // each ceiling measurement
}

// Defaults fills every zero field with its default.
func (c *Config) Defaults() {
	set := func(p *int, v int) {
		if *p <= 0 {
			*p = v
		}
	}
	set(&c.Students, 800)
	set(&c.Items, 8)
	set(&c.Projects, 4)
	set(&c.Concurrency, 32)
	set(&c.LoginConcurrency, 8)
	set(&c.Servers, 1)
	if c.Projects > c.Items {
		c.Projects = c.Items
	}
	if c.Duration <= 0 {
		c.Duration = 20 * time.Second
	}
	if c.MaxInFlight <= 0 {
		c.MaxInFlight = 10_000
	}
	if c.TimeScale <= 0 {
		c.TimeScale = 0.01
	}
	if c.PayTimeout <= 0 {
		c.PayTimeout = 30 * time.Second
	}
	if c.PollInterval <= 0 {
		c.PollInterval = 20 * time.Millisecond
	}
	if c.CeilingTime <= 0 {
		c.CeilingTime = 2 * time.Second
	}
}

func (c *Config) check() error {
	switch {
	case c.Binary == "":
		return errors.New("loadtest: no campuspay binary")
	case len(c.Targets) > 0 && c.SandboxURL == "":
		return errors.New("loadtest: --target needs --sandbox-url")
	case len(c.Targets) > 0 && c.School == "" && !c.Prepare:
		return errors.New("loadtest: --target needs --school CODE (or --prepare with --db)")
	case c.Prepare && c.DB == "":
		return errors.New("loadtest: --prepare needs --db")
	case len(c.Targets) == 0 && (len(c.ServerPIDs) > 0 || c.SandboxURL != ""):
		return errors.New("loadtest: --server-pids and --sandbox-url go with --target")
	case len(c.Targets) > 0 && c.Servers > 1:
		return errors.New("loadtest: --servers starts servers; with --target the servers are yours")
	case c.Servers > 1 && !strings.HasPrefix(c.DB, "postgres"):
		return errors.New("loadtest: several servers share a PostgreSQL database (--db postgres://…)")
	}
	return nil
}

// studentsPerClient is how many synthetic students share a client address.
const studentsPerClient = 16

// Run runs a load test, writes progress to stderr about once a second and
// the report to stdout, and returns the report.
func Run(ctx context.Context, cfg Config, stdout, stderr io.Writer) (*Report, error) {
	cfg.Defaults()
	if err := cfg.check(); err != nil {
		return nil, err
	}
	for i, t := range cfg.Targets {
		cfg.Targets[i] = strings.TrimRight(t, "/")
	}
	cfg.SandboxURL = strings.TrimRight(cfg.SandboxURL, "/")
	tmp, err := os.MkdirTemp("", "campuspay-loadtest-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp)

	rep := &Report{Config: cfg}
	own := len(cfg.Targets) == 0
	if cfg.School == "" {
		var b [3]byte
		rand.Read(b[:])
		cfg.School = "lt" + hex.EncodeToString(b[:])
	}
	if own && cfg.DB == "" {
		cfg.DB = "sqlite:" + filepath.Join(tmp, "loadtest.db")
		rep.TempDB = true
	}
	rep.Config = cfg
	if own || cfg.Prepare {
		fmt.Fprintf(stderr, "loadtest: preparing school %s: %d students, %d items each in %d projects (CLI: school create, import students, import bills)\n",
			cfg.School, cfg.Students, cfg.Items, cfg.Projects)
		if err := prepareSchool(ctx, cfg.Binary, cfg.DB, tmp, cfg.School, cfg.Students, cfg.Items, cfg.Projects); err != nil {
			return nil, err
		}
	}

	var servers []*child
	var sandbox *child
	serverPIDs := cfg.ServerPIDs
	profTargets := cfg.Targets // where /debug/pprof is asked for
	if own {
		sbAddr, err := freeAddr()
		if err != nil {
			return nil, err
		}
		keys := filepath.Join(tmp, "sandbox-keys")
		cfg.SandboxURL = "http://" + sbAddr
		sandbox, err = startChild(ctx, cfg.Binary, tmp, "sandbox", cfg.SandboxURL,
			"sandbox", "--addr", sbAddr, "--keys", keys, "--time-scale", fmt.Sprint(cfg.TimeScale))
		if err != nil {
			return nil, err
		}
		defer sandbox.stop()
		if cfg.MetricsToken == "" {
			cfg.MetricsToken = randomToken()
		}
		profTargets = nil
		for i := range cfg.Servers {
			srvAddr, err := freeAddr()
			if err != nil {
				return nil, err
			}
			url := "http://" + srvAddr
			args := []string{"serve", "--addr", srvAddr, "--db", cfg.DB, "--sandbox-url", cfg.SandboxURL, "--sandbox-keys", keys,
				"--metrics-token", cfg.MetricsToken}
			if cfg.PprofDir != "" { // profiles are served on a metrics listener of its own
				mAddr, err := freeAddr()
				if err != nil {
					return nil, err
				}
				args = append(args, "--metrics-addr", mAddr, "--pprof")
				profTargets = append(profTargets, "http://"+mAddr)
			}
			name := "server"
			if cfg.Servers > 1 {
				name = fmt.Sprintf("server%d", i+1)
			}
			c, err := startChild(ctx, cfg.Binary, tmp, name, url, args...)
			if err != nil {
				return nil, err
			}
			defer c.stop()
			servers = append(servers, c)
			cfg.Targets = append(cfg.Targets, url)
			serverPIDs = append(serverPIDs, c.pid())
			fmt.Fprintf(stderr, "loadtest: server %s (pid %d), sandbox %s (pid %d)\n", url, c.pid(), cfg.SandboxURL, sandbox.pid())
		}
	}
	rep.Config = cfg

	r := &runner{cfg: cfg, school: cfg.School, sandboxURL: cfg.SandboxURL}
	r.pay = httpPayer{r}
	// One client address per studentsPerClient students: a school's
	// students log in from many networks, and the login throttle allows
	// one address about 60 attempts at once and one a second after that
	// (throttle.LoginDefaults), which a first login takes two of.
	clients := newClients(max(16, (cfg.Students+studentsPerClient-1)/studentsPerClient), isLoopback(append([]string{cfg.SandboxURL}, cfg.Targets...)...))
	students := make([]*student, cfg.Students)
	for i := range students {
		id := idCard(i)
		students[i] = &student{i: i, no: studentNo(i), last6: id[len(id)-6:], base: cfg.Targets[i%len(cfg.Targets)], hc: clients[i%len(clients)]}
	}
	payN := cfg.Students
	if cfg.LoginStorm {
		payN = cfg.Students - cfg.Students/2
	}
	r.pool = newPool(payN)
	ctrl := &http.Client{Timeout: 30 * time.Second}

	// Phase 1: log the pay pool in.
	prog := startProgress(stderr, r, "login")
	loginStart := time.Now()
	var loggedIn []*student
	var mu sync.Mutex
	var nextLogin atomic.Int64
	loginJob := func(ctx context.Context, _ time.Time) error {
		i := int(nextLogin.Add(1) - 1)
		if i >= payN {
			return errStop
		}
		s := students[i]
		if err := r.loginAndLook(ctx, s); err != nil {
			r.errs.add("login", err)
			return nil
		}
		r.logins.Add(1)
		mu.Lock()
		loggedIn = append(loggedIn, s)
		mu.Unlock()
		if len(s.next) > 0 {
			r.pool.add(s)
		}
		return nil
	}
	if cfg.LoginRate > 0 {
		_, _, wait := openLoop(ctx, loginStart, cfg.LoginRate, time.Duration(float64(payN)/cfg.LoginRate*float64(time.Second)), 0, loginJob)
		wait()
	} else {
		closedLoop(ctx, cfg.LoginConcurrency, loginStart.Add(24*time.Hour), loginJob)
	}
	rep.LoginTime = time.Since(loginStart)
	rep.Logins = r.logins.Load()
	prog.stop()
	if ctx.Err() != nil {
		return nil, ctx.Err()
	}
	if r.pool.active.Load() == 0 {
		var why []string
		for _, e := range r.errs.sorted() {
			why = append(why, fmt.Sprintf("%s ×%d", e.Key, e.N))
		}
		if len(why) == 0 {
			why = []string{"every student has paid everything"}
		}
		return nil, fmt.Errorf("loadtest: no student logged in with something left to pay (%s)", strings.Join(why, ", "))
	}

	// The logins' bound, measured next to them in time: on a shared
	// machine the neighbours' load drifts over a run.
	if v, err := Argon2Rate(ctx, cfg.CeilingTime); err == nil {
		rep.HashRate = v
	} else {
		rep.CeilingNotes = append(rep.CeilingNotes, "argon2id: "+err.Error())
	}

	// Phase 2: the measured pay flows (and the login storm).
	before := r.snapshot(ctx, ctrl, serverPIDs, sandbox)
	t0 := time.Now()
	prog = startProgress(stderr, r, "pay")
	var profiles []string
	var profWG sync.WaitGroup
	if cfg.PprofDir != "" {
		profWG.Add(1)
		go func() {
			defer profWG.Done()
			profiles = fetchProfiles(ctx, profTargets, cfg.PprofDir, cfg.MetricsToken, min(10, max(1, int(cfg.Duration/time.Second))))
		}()
	}
	rssStop := make(chan struct{})
	rssDone := make(chan []int64)
	go func() { rssDone <- sampleRSS(serverPIDs, rssStop) }()
	var stormWG sync.WaitGroup
	if cfg.LoginStorm {
		r.stormAt = t0.Add(cfg.Duration / 2)
		stormWG.Add(1)
		go func() {
			defer stormWG.Done()
			rep.StormLogins = r.storm(ctx, students[payN:], r.stormAt, t0.Add(cfg.Duration))
		}()
	}
	if cfg.Rate > 0 {
		var wait func()
		rep.Launched, rep.Dropped, wait = openLoop(ctx, t0, cfg.Rate, cfg.Duration, cfg.MaxInFlight, r.flow)
		wait()
	} else {
		rep.Launched = closedLoop(ctx, cfg.Concurrency, t0.Add(cfg.Duration), r.flow)
	}
	stormWG.Wait()
	rep.Window = time.Since(t0)
	close(rssStop)
	rep.RSSSamples = <-rssDone
	after := r.snapshot(ctx, ctrl, serverPIDs, sandbox)
	prog.stop()
	rep.FlowsPaid = r.flowsPaid.Load()
	rep.FlowErrors = r.flowErrs.Load()
	rep.Starved = r.starved.Load()
	rep.usage(before, after, serverPIDs, sandbox, strings.HasPrefix(cfg.DB, "postgres"))
	profWG.Wait()
	rep.Profiles = profiles
	if ctx.Err() != nil {
		return nil, ctx.Err()
	}

	// Phase 3: the invariants.
	fmt.Fprintln(stderr, "loadtest: checking invariants")
	r.checkInvariants(ctx, loggedIn, rep)
	if after.totalsOK && before.totalsOK {
		if t, err := readTotals(ctx, ctrl, cfg.SandboxURL); err == nil {
			rep.SandboxDelta = t.UnionPay + t.WeChat - before.totals.UnionPay - before.totals.WeChat
			rep.SandboxCount = t.Count - before.totals.Count
			rep.TotalsKnown = true
		}
	}
	rep.PlatformTotal = r.paidFen.Load()
	if rep.TotalsKnown && rep.SandboxDelta != rep.PlatformTotal {
		rep.Violations = append(rep.Violations, fmt.Sprintf("sandbox captured %d fen during the run, the platform received %d fen", rep.SandboxDelta, rep.PlatformTotal))
	}
	if cfg.DB != "" {
		out, err := runCLI(ctx, cfg.Binary, "journal", "verify", "--db", cfg.DB)
		rep.JournalChecked = true
		rep.JournalOK = err == nil && strings.Contains(out, "journal OK")
		if !rep.JournalOK {
			rep.Violations = append(rep.Violations, "campuspay journal verify failed: "+lastLine(out, err))
		}
	}
	for _, c := range append(servers, sandbox) {
		if c != nil {
			if b, ok := peakRSS(c.pid()); ok {
				rep.PeakRSS = append(rep.PeakRSS, namedBytes{c.name, b})
			}
		}
	}

	// Phase 4: the ceiling, with the load stopped.
	fmt.Fprintln(stderr, "loadtest: measuring the ceiling (raw transactions, RSA signatures)")
	if cfg.DB != "" {
		if v, err := RawTxnRate(ctx, cfg.DB, cfg.CeilingTime, 1); err == nil {
			rep.TxnSerial = v
		} else {
			rep.CeilingNotes = append(rep.CeilingNotes, "raw transactions: "+err.Error())
		}
		if v, err := RawTxnRate(ctx, cfg.DB, cfg.CeilingTime, 16); err == nil {
			rep.TxnParallel = v
		} else {
			rep.CeilingNotes = append(rep.CeilingNotes, "raw transactions: "+err.Error())
		}
	}
	if v, err := RSASignRate(ctx, cfg.CeilingTime); err == nil {
		rep.SignRate = v
	}
	rep.Hist = &r.hist
	rep.Errors = r.errs.sorted()
	rep.ErrorTotal = r.errs.total()
	rep.NoIDField = r.noIDField.Load()
	rep.Write(stdout)
	return rep, nil
}

func lastLine(out string, err error) string {
	s := strings.TrimSpace(out)
	if i := strings.LastIndexByte(s, '\n'); i >= 0 {
		s = s[i+1:]
	}
	if s == "" && err != nil {
		s = err.Error()
	}
	return s
}

// storm logs fresh students in during the second half of the pay phase
// (from start to end), at LoginRate or as fast as LoginConcurrency
// allows, until the phase ends or the students run out; it returns how
// many logged in.
func (r *runner) storm(ctx context.Context, fresh []*student, start, end time.Time) int64 {
	select {
	case <-ctx.Done():
		return 0
	case <-time.After(time.Until(start)):
	}
	var next, done atomic.Int64
	j := func(ctx context.Context, _ time.Time) error {
		i := int(next.Add(1) - 1)
		if i >= len(fresh) {
			return errStop
		}
		if err := r.login(ctx, fresh[i], &r.hist[stepStormLogin], &r.hist[stepStormPassword]); err != nil {
			r.errs.add("storm", err)
			return nil
		}
		done.Add(1)
		return nil
	}
	if r.cfg.LoginRate > 0 {
		d := min(end.Sub(start), time.Duration(float64(len(fresh))/r.cfg.LoginRate*float64(time.Second)))
		_, _, wait := openLoop(ctx, start, r.cfg.LoginRate, d, 0, j)
		wait()
	} else {
		closedLoop(ctx, r.cfg.LoginConcurrency, end, j)
	}
	return done.Load()
}

// snap is what the report compares before and after the pay phase.
type snap struct {
	server, sandbox, postgres, self time.Duration
	serverOK, sandboxOK, pgOK       bool
	db                              dbCounters
	totals                          sandboxTotals
	totalsOK                        bool
}

func (r *runner) snapshot(ctx context.Context, hc *http.Client, serverPIDs []int, sandbox *child) snap {
	var s snap
	s.server, s.serverOK = cpuOf(serverPIDs)
	if sandbox != nil {
		s.sandbox, s.sandboxOK = cpuOf([]int{sandbox.pid()})
	}
	if strings.HasPrefix(r.cfg.DB, "postgres") {
		s.postgres, s.pgOK = CommandCPU("postgres")
	}
	if st, err := readStat(os.Getpid()); err == nil {
		s.self = ticksToDuration(st.own())
	}
	s.db = readDBCounters(ctx, hc, r.cfg.Targets, r.cfg.MetricsToken)
	var err error
	s.totals, err = readTotals(ctx, hc, r.sandboxURL)
	s.totalsOK = err == nil
	return s
}

// progress prints one line on stderr about once a second.
type progress struct {
	stopc chan struct{}
	done  chan struct{}
}

func startProgress(w io.Writer, r *runner, phase string) *progress {
	p := &progress{stopc: make(chan struct{}), done: make(chan struct{})}
	start := time.Now()
	line := func() {
		el := time.Since(start)
		switch phase {
		case "login":
			n := r.logins.Load()
			fmt.Fprintf(w, "loadtest [login] %5.1fs  logins %d (%.1f/s)  errors %d\n", el.Seconds(), n, float64(n)/el.Seconds(), r.errs.total())
		default:
			n := r.flowsPaid.Load()
			fmt.Fprintf(w, "loadtest [pay]   %5.1fs  flows %d (%.1f/s)  errors %d  in flight %d\n",
				el.Seconds(), n, float64(n)/el.Seconds(), r.flowErrs.Load(), r.inFlight.Load())
		}
	}
	go func() {
		defer close(p.done)
		t := time.NewTicker(time.Second)
		defer t.Stop()
		for {
			select {
			case <-p.stopc:
				line() // the phase's last word, however short it was
				return
			case <-t.C:
				line()
			}
		}
	}()
	return p
}

func (p *progress) stop() {
	close(p.stopc)
	<-p.done
}

// randomToken is a bearer token for the metrics of a server this run starts.
func randomToken() string {
	b := make([]byte, 16)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// sampleRSS records the servers' resident set (summed) once a second
// until stop, to show whether memory stays flat over a long run.
func sampleRSS(pids []int, stop <-chan struct{}) []int64 {
	var out []int64
	take := func() {
		var sum int64
		for _, p := range pids {
			if b, ok := rss(p); ok {
				sum += b
			}
		}
		if sum > 0 {
			out = append(out, sum)
		}
	}
	take()
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		select {
		case <-stop:
			take()
			return out
		case <-t.C:
			take()
		}
	}
}
