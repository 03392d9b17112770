package loadtest

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestParseCounters(t *testing.T) {
	text := `# HELP campuspay_db_statements_total Statements run.
# TYPE campuspay_db_statements_total counter
campuspay_db_statements_total{dialect="sqlite",kind="read"} 1200
campuspay_db_statements_total{dialect="sqlite",kind="write",note="a } in \"quotes\""} 34.5
campuspay_db_statements_total_created 1.7e9
campuspay_db_transactions_total 99 1700000000000
campuspay_db_transactions_totalx 5
campuspay_http_requests_total{door="api",code="2xx"} 7
campuspay_db_transactions_total{broken="x" 3
campuspay_db_transactions_total NaN
`
	got := parseCounters([]byte(text), metricStatements, metricTransactions, "absent_total")
	if got[metricStatements] != 1234.5 || got[metricTransactions] != 99 {
		t.Fatalf("counters %v, want statements 1234.5 and transactions 99", got)
	}
	if _, ok := got["absent_total"]; ok {
		t.Fatalf("an absent metric was reported: %v", got)
	}
}

func FuzzParseCounters(f *testing.F) {
	f.Add([]byte("campuspay_db_statements_total{a=\"b\"} 3\ncampuspay_db_transactions_total 4\n"))
	f.Add([]byte("campuspay_db_statements_total{a=\"\\\"}\"} 1e3"))
	f.Add([]byte("# only a comment\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		for _, v := range parseCounters(b, metricStatements, metricTransactions) {
			if v != v {
				t.Fatalf("NaN from %q", b)
			}
		}
	})
}

func TestParseStat(t *testing.T) {
	for _, c := range []struct {
		name, in string
		comm     string
		own, all int64
		bad      bool
	}{
		{name: "a plain server", in: "4242 (campuspay) S 1 4242 4242 0 -1 4194560 5000 0 0 0 150 25 7 3 20 0 12 0 100 1000000 2000 18446744073709551615",
			comm: "campuspay", own: 175, all: 185},
		{name: "a name with spaces and parentheses", in: "77 (post (gres) x) R 1 77 77 0 -1 0 0 0 0 0 10 20 30 40 20 0 1 0 5 0 0",
			comm: "post (gres) x", own: 30, all: 100},
		{name: "cut short", in: "77 (postgres) R 1 77", bad: true},
		{name: "no name", in: "77 postgres R", bad: true},
		{name: "negative time", in: "1 (x) S 0 0 0 0 0 0 0 0 0 0 -5 1 1 1", bad: true},
	} {
		t.Run(c.name, func(t *testing.T) {
			s, err := parseStat([]byte(c.in))
			if c.bad {
				if err == nil {
					t.Fatalf("accepted %q: %+v", c.in, s)
				}
				return
			}
			if err != nil || s.comm != c.comm || s.own() != c.own || s.all() != c.all {
				t.Fatalf("got %+v %v, want comm %q own %d all %d", s, err, c.comm, c.own, c.all)
			}
		})
	}
}

func TestReadOwnStatAndPeakRSS(t *testing.T) {
	if _, err := os.Stat("/proc/self/stat"); err != nil {
		t.Skip("no /proc")
	}
	s, err := readStat(os.Getpid())
	if err != nil || s.comm != "loadtest.test" || s.own() < 0 {
		t.Fatalf("own stat: %+v %v", s, err)
	}
	if b, ok := peakRSS(os.Getpid()); !ok || b < 1<<20 {
		t.Fatalf("own peak RSS %d %v", b, ok)
	}
}

func FuzzParseStat(f *testing.F) {
	f.Add([]byte("4242 (campuspay) S 1 4242 4242 0 -1 4194560 5000 0 0 0 150 25 7 3 20 0"))
	f.Add([]byte("1 ((() S"))
	f.Add([]byte(")("))
	f.Fuzz(func(t *testing.T, b []byte) {
		s, err := parseStat(b)
		if err == nil && (s.utime < 0 || s.stime < 0 || s.cutime < 0 || s.cstime < 0) {
			t.Fatalf("negative CPU time from %q: %+v", b, s)
		}
	})
}

func TestIDCardsPassTheCheckDigit(t *testing.T) {
	// Real-format numbers from the demo roll, which the importer accepts.
	for _, id := range []string{"500117200806144212", "500110200807240893", "500112200805221990", "500108200804143260"} {
		if got := idCheck(id[:17]); got != id[17] {
			t.Fatalf("%s: check character %c", id, got)
		}
	}
	seen := map[string]bool{}
	for i := range 5000 {
		id := idCard(i)
		if len(id) != 18 || idCheck(id[:17]) != id[17] || seen[id] {
			t.Fatalf("student %d: id %s bad or repeated", i, id)
		}
		seen[id] = true
	}
}

func TestBillsHaveOneFlowPerProject(t *testing.T) {
	lines := billsOf(3, 8, 3)
	mand := map[string]int{}
	for _, l := range lines {
		if l.amount <= 0 || l.amount > 5_000_000 {
			t.Fatalf("amount %d fen outside the test card's single limit", l.amount)
		}
		if l.mandatory {
			mand[l.project]++
		}
	}
	if len(lines) != 8 || len(mand) != 3 {
		t.Fatalf("%d lines, mandatory items in %d projects: %+v", len(lines), len(mand), lines)
	}
}

func TestRedactHidesThePassword(t *testing.T) {
	if got := redact("postgres://app:s3cret@db:5432/x?sslmode=disable"); strings.Contains(got, "s3cret") || !strings.Contains(got, "app:xxxxx@db") {
		t.Fatalf("redact: %s", got)
	}
	if got := redact("sqlite:/tmp/a@b.db"); got != "sqlite:/tmp/a@b.db" {
		t.Fatalf("redact changed a path: %s", got)
	}
}

func TestRSASignRateCountsSignatures(t *testing.T) {
	if testing.Short() {
		t.Skip("measures for a second")
	}
	v, err := RSASignRate(context.Background(), 600*time.Millisecond)
	// Even a loaded machine signs a few per second; nothing signs a million.
	if err != nil || v < 5 || v > 1e6 {
		t.Fatalf("RSA sign rate %v %v", v, err)
	}
}

func TestRawTxnRate(t *testing.T) {
	dsns := []string{"sqlite:" + filepath.Join(t.TempDir(), "raw.db")}
	if pg := os.Getenv("CAMPUSPAY_TEST_POSTGRES"); pg != "" {
		dsns = append(dsns, pg)
	}
	for _, dsn := range dsns {
		for _, inFlight := range []int{1, 16} {
			v, err := RawTxnRate(context.Background(), dsn, 200*time.Millisecond, inFlight)
			if err != nil || v <= 0 {
				t.Fatalf("%s, %d in flight: %v txn/s, %v", redact(dsn), inFlight, v, err)
			}
		}
	}
}

func TestSourceAddressesOnlyForIPv4Loopback(t *testing.T) {
	for _, c := range []struct {
		urls []string
		want bool
	}{
		{[]string{"http://127.0.0.1:8080", "http://127.0.0.1:9090"}, true},
		{[]string{"http://127.0.0.1:8080", "http://localhost:9090"}, false},
		{[]string{"http://[::1]:8080"}, false},
		{[]string{"http://10.0.0.5:8080"}, false},
	} {
		if got := isLoopback(c.urls...); got != c.want {
			t.Errorf("isLoopback(%v) = %v", c.urls, got)
		}
	}
}
