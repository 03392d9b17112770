package loadtest

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"campuspay/internal/store/storetest"
)

var (
	tmpDir    string
	buildOnce sync.Once
	binPath   string
	buildErr  error
)

func TestMain(m *testing.M) {
	d, err := os.MkdirTemp("", "campuspay-loadtest-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	tmpDir = d
	code := m.Run()
	os.RemoveAll(d)
	os.Exit(code)
}

// binary builds campuspay once for the tests that need it.
func binary(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("starts real processes")
	}
	buildOnce.Do(func() {
		binPath = filepath.Join(tmpDir, "campuspay")
		out, err := exec.Command("go", "build", "-o", binPath, "campuspay/cmd/campuspay").CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binPath
}

var lastLineRe = regexp.MustCompile(`^loadtest: flows_per_s=(\S+) ceiling_flows_per_s=(\S+) ratio=(\S+) platform_cpu_ms_per_flow=(\S+) p99_order_ms=(\S+) logins_per_s=(\S+) violations=(\S+)$`)

// parseLastLine checks the report's last line and returns its numbers by key.
func parseLastLine(t *testing.T, out string) map[string]float64 {
	t.Helper()
	lines := strings.Split(strings.TrimRight(out, "\n"), "\n")
	m := lastLineRe.FindStringSubmatch(lines[len(lines)-1])
	if m == nil {
		t.Fatalf("last line %q does not parse", lines[len(lines)-1])
	}
	keys := []string{"flows_per_s", "ceiling_flows_per_s", "ratio", "platform_cpu_ms_per_flow", "p99_order_ms", "logins_per_s", "violations"}
	got := map[string]float64{}
	for i, k := range keys {
		v, err := strconv.ParseFloat(m[i+1], 64)
		if err != nil {
			t.Fatalf("%s=%q is not a number", k, m[i+1])
		}
		got[k] = v
	}
	return got
}

// TestSmokeClosedLoop runs a real, short load against a server and a
// sandbox it starts as processes: flows happen, nothing is violated, and
// the last line carries every figure.
func TestSmokeClosedLoop(t *testing.T) {
	bin := binary(t)
	var out, errOut bytes.Buffer
	rep, err := Run(context.Background(), Config{Binary: bin, Students: 30, Items: 6, Projects: 6, Duration: 2 * time.Second,
		Concurrency: 4, CeilingTime: 200 * time.Millisecond}, &out, &errOut)
	if err != nil {
		t.Fatalf("run: %v\nstderr:\n%s", err, errOut.String())
	}
	if rep.FlowsPaid == 0 || rep.Logins != 30 || len(rep.Violations) != 0 || rep.ErrorTotal != 0 {
		t.Fatalf("paid %d logins %d violations %v errors %v\n%s", rep.FlowsPaid, rep.Logins, rep.Violations, rep.Errors, out.String())
	}
	if !rep.JournalOK || !rep.TotalsKnown || rep.SandboxDelta != rep.PlatformTotal || rep.PlatformTotal == 0 || rep.SandboxCount != rep.FlowsPaid {
		t.Fatalf("journal %v, sandbox %d fen in %d, platform %d fen in %d flows", rep.JournalOK, rep.SandboxDelta, rep.SandboxCount, rep.PlatformTotal, rep.FlowsPaid)
	}
	if !rep.ServerCPUKnown || !rep.SandboxCPUKnown || len(rep.PeakRSS) != 2 {
		t.Fatalf("server CPU %v sandbox CPU %v peak RSS %v", rep.ServerCPUKnown, rep.SandboxCPUKnown, rep.PeakRSS)
	}
	got := parseLastLine(t, out.String())
	if got["violations"] != 0 || got["flows_per_s"] <= 0 || got["ceiling_flows_per_s"] <= 0 || got["ratio"] <= 0 ||
		got["platform_cpu_ms_per_flow"] <= 0 || got["p99_order_ms"] <= 0 || got["logins_per_s"] <= 0 {
		t.Fatalf("last line figures %v\n%s", got, out.String())
	}
	if !strings.Contains(errOut.String(), "loadtest [pay]") {
		t.Fatalf("no progress line on stderr:\n%s", errOut.String())
	}
}

// TestSmokeOpenLoopWithLoginStorm: an open-loop run with half the roll
// logging in during the second half of the pay phase; the storm's logins
// are measured apart, every paid flow is timed in the half it started in,
// and the argon2id bound is measured and reported.
func TestSmokeOpenLoopWithLoginStorm(t *testing.T) {
	bin := binary(t)
	var out, errOut bytes.Buffer
	rep, err := Run(context.Background(), Config{Binary: bin, Students: 20, Items: 4, Projects: 4, Duration: 1500 * time.Millisecond,
		Rate: 20, LoginStorm: true, LoginRate: 10, CeilingTime: 200 * time.Millisecond}, &out, &errOut)
	if err != nil {
		t.Fatalf("run: %v\nstderr:\n%s", err, errOut.String())
	}
	if rep.FlowsPaid == 0 || rep.Logins != 10 || rep.StormLogins == 0 || len(rep.Violations) != 0 || rep.Hist[stepStormLogin].Count() != rep.StormLogins {
		t.Fatalf("paid %d logins %d storm %d violations %v\n%s", rep.FlowsPaid, rep.Logins, rep.StormLogins, rep.Violations, out.String())
	}
	if rep.Launched != 30 || rep.Dropped != 0 {
		t.Fatalf("open loop started %d dropped %d, want 30 and 0", rep.Launched, rep.Dropped)
	}
	calm, storm := rep.Hist[stepFlowCalm].Count(), rep.Hist[stepFlowStorm].Count()
	if calm == 0 || storm == 0 || calm+storm != rep.Hist[stepFlow].Count() {
		t.Fatalf("flows timed %d before the storm and %d during it, %d in all", calm, storm, rep.Hist[stepFlow].Count())
	}
	if rep.HashRate <= 0 || !strings.Contains(out.String(), "per first login") || !strings.Contains(out.String(), "before the storm") {
		t.Fatalf("argon2id rate %.1f; report:\n%s", rep.HashRate, out.String())
	}
	parseLastLine(t, out.String())
}

// TestSmokeTwoServersOnPostgres: the run starts two serve processes on
// one PostgreSQL database and spreads the students over them; every
// invariant holds with both servers taking payments and running jobs.
func TestSmokeTwoServersOnPostgres(t *testing.T) {
	bin := binary(t)
	dsn := storetest.PostgresDSN(t)
	var out, errOut bytes.Buffer
	rep, err := Run(context.Background(), Config{Binary: bin, DB: dsn, Servers: 2, Students: 24, Items: 4, Projects: 2,
		Duration: 2 * time.Second, Concurrency: 8, CeilingTime: 200 * time.Millisecond}, &out, &errOut)
	if err != nil {
		t.Fatalf("run: %v\nstderr:\n%s", err, errOut.String())
	}
	if len(rep.Config.Targets) != 2 || rep.FlowsPaid == 0 || len(rep.Violations) != 0 || !rep.JournalOK || !rep.TotalsKnown {
		t.Fatalf("targets %v paid %d violations %v journal %v totals %v\n%s", rep.Config.Targets, rep.FlowsPaid, rep.Violations,
			rep.JournalOK, rep.TotalsKnown, out.String())
	}
	if strings.Count(errOut.String(), "loadtest: server http") != 2 || !rep.PostgresCPUKnown {
		t.Fatalf("want two servers and PostgreSQL's CPU measured:\n%s\n%s", errOut.String(), out.String())
	}
	parseLastLine(t, out.String())
}
