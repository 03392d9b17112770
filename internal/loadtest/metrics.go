package loadtest

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"math"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// The server's database counters (Prometheus), read when it exposes them.
const (
	metricStatements   = "campuspay_db_statements_total"
	metricTransactions = "campuspay_db_transactions_total"
)

// parseCounters sums, for each wanted metric name, the values of all its
// samples (every label set) in a Prometheus text exposition. A name with
// no sample is absent from the result. Malformed lines are skipped.
func parseCounters(text []byte, names ...string) map[string]float64 {
	want := make(map[string]bool, len(names))
	for _, n := range names {
		want[n] = true
	}
	out := map[string]float64{}
	sc := bufio.NewScanner(bytes.NewReader(text))
	sc.Buffer(make([]byte, 64*1024), 1<<20)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || line[0] == '#' {
			continue
		}
		end := strings.IndexAny(line, "{ \t")
		if end <= 0 || !want[line[:end]] {
			continue
		}
		name, rest := line[:end], line[end:]
		if rest[0] == '{' {
			i := labelsEnd(rest)
			if i < 0 {
				continue
			}
			rest = rest[i+1:]
		}
		f := strings.Fields(rest)
		if len(f) == 0 {
			continue
		}
		v, err := strconv.ParseFloat(f[0], 64)
		if err != nil || math.IsNaN(v) || math.IsInf(v, 0) {
			continue
		}
		out[name] += v
	}
	return out
}

// labelsEnd returns the index of the '}' closing the label set that s
// starts with, honouring quoted values with backslash escapes; -1 if none.
func labelsEnd(s string) int {
	quoted := false
	for i := 1; i < len(s); i++ {
		switch c := s[i]; {
		case quoted && c == '\\':
			i++
		case c == '"':
			quoted = !quoted
		case !quoted && c == '}':
			return i
		}
	}
	return -1
}

// dbCounters are a sum of the servers' database counters; ok is false
// when a server did not expose both.
type dbCounters struct {
	statements, transactions float64
	ok                       bool
}

// readDBCounters reads /metrics of every target.
func readDBCounters(ctx context.Context, hc *http.Client, targets []string, token string) dbCounters {
	c := dbCounters{ok: len(targets) > 0}
	for _, t := range targets {
		body, err := get(ctx, hc, t+"/metrics", token)
		if err != nil {
			return dbCounters{}
		}
		m := parseCounters(body, metricStatements, metricTransactions)
		s, ok1 := m[metricStatements]
		x, ok2 := m[metricTransactions]
		if !ok1 || !ok2 {
			return dbCounters{}
		}
		c.statements += s
		c.transactions += x
	}
	return c
}

// get fetches a URL with an optional bearer token; any status but 200 is
// an error.
func get(ctx context.Context, hc *http.Client, u, token string) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, "GET", u, nil)
	if err != nil {
		return nil, err
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := hc.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s: %d", u, resp.StatusCode)
	}
	return b, nil
}

// fetchProfiles fetches a CPU profile of secs seconds from every target's
// /debug/pprof/profile into dir and returns the files written. A server
// that does not serve it is skipped without complaint.
func fetchProfiles(ctx context.Context, targets []string, dir, token string, secs int) []string {
	hc := &http.Client{Timeout: time.Duration(secs+30) * time.Second}
	if os.MkdirAll(dir, 0o755) != nil {
		return nil
	}
	ch := make(chan string, len(targets))
	for i, t := range targets {
		go func() {
			body, err := get(ctx, hc, fmt.Sprintf("%s/debug/pprof/profile?seconds=%d", t, secs), token)
			// A profile is gzip; anything else (an HTML 404 page, the
			// student portal's catch-all) is not one.
			if err != nil || len(body) < 2 || body[0] != 0x1f || body[1] != 0x8b {
				ch <- ""
				return
			}
			f := filepath.Join(dir, fmt.Sprintf("cpu-server%d.pprof", i+1))
			if os.WriteFile(f, body, 0o644) != nil {
				f = ""
			}
			ch <- f
		}()
	}
	var files []string
	for range targets {
		if f := <-ch; f != "" {
			files = append(files, f)
		}
	}
	return files
}
