package loadtest

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// clockTicks is USER_HZ, the unit of /proc/<pid>/stat's CPU times: 100 on
// every Linux architecture Go supports (it is fixed by the kernel ABI,
// whatever CONFIG_HZ is).
const clockTicks = 100

// procStat is what we read of /proc/<pid>/stat.
type procStat struct {
	comm string
	// utime, stime: the process's own CPU in ticks; cutime, cstime: its
	// waited-for children's (a PostgreSQL backend that exits during the
	// run lands in the postmaster's cutime).
	utime, stime, cutime, cstime int64
}

func (s procStat) own() int64 { return s.utime + s.stime }
func (s procStat) all() int64 { return s.utime + s.stime + s.cutime + s.cstime }

// parseStat parses the contents of /proc/<pid>/stat. The command name is
// in parentheses and may itself hold spaces and parentheses, so the fields
// are counted from the last ')'.
func parseStat(b []byte) (procStat, error) {
	open := bytes.IndexByte(b, '(')
	cl := bytes.LastIndexByte(b, ')')
	if open < 0 || cl < open {
		return procStat{}, errors.New("stat: no command name")
	}
	s := procStat{comm: string(b[open+1 : cl])}
	// After ") ": state(3) ppid(4) … utime(14) stime(15) cutime(16) cstime(17).
	f := strings.Fields(string(b[cl+1:]))
	if len(f) < 15 {
		return procStat{}, errors.New("stat: too few fields")
	}
	for i, p := range []*int64{&s.utime, &s.stime, &s.cutime, &s.cstime} {
		v, err := strconv.ParseInt(f[11+i], 10, 64)
		if err != nil || v < 0 {
			return procStat{}, errors.New("stat: bad CPU time")
		}
		*p = v
	}
	return s, nil
}

func readStat(pid int) (procStat, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return procStat{}, err
	}
	return parseStat(b)
}

// cpuOf is the CPU time of pids (own time only: a Go server does not fork),
// and false if any cannot be read.
func cpuOf(pids []int) (time.Duration, bool) {
	var ticks int64
	for _, pid := range pids {
		s, err := readStat(pid)
		if err != nil {
			return 0, false
		}
		ticks += s.own()
	}
	return ticksToDuration(ticks), len(pids) > 0
}

func ticksToDuration(t int64) time.Duration { return time.Duration(t) * time.Second / clockTicks }

// CommandCPU sums the CPU time, children's included, of every process whose
// command name is comm (e.g. all of PostgreSQL's processes, "postgres"),
// and reports whether any was found.
func CommandCPU(comm string) (time.Duration, bool) {
	dirs, _ := filepath.Glob("/proc/[0-9]*")
	var ticks int64
	found := false
	for _, d := range dirs {
		b, err := os.ReadFile(d + "/stat")
		if err != nil {
			continue // gone meanwhile
		}
		s, err := parseStat(b)
		if err != nil || s.comm != comm {
			continue
		}
		found = true
		ticks += s.all()
	}
	return ticksToDuration(ticks), found
}

// peakRSS is VmHWM, the process's peak resident set, in bytes.
func peakRSS(pid int) (int64, bool) { return statusBytes(pid, "VmHWM:") }

// rss is VmRSS, the process's resident set now, in bytes.
func rss(pid int) (int64, bool) { return statusBytes(pid, "VmRSS:") }

// statusBytes reads a "kB" field of /proc/PID/status, in bytes.
func statusBytes(pid int, field string) (int64, bool) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return 0, false
	}
	for line := range strings.Lines(string(b)) {
		if rest, ok := strings.CutPrefix(line, field); ok {
			f := strings.Fields(rest)
			if len(f) == 2 && f[1] == "kB" {
				if kb, err := strconv.ParseInt(f[0], 10, 64); err == nil {
					return kb * 1024, true
				}
			}
		}
	}
	return 0, false
}
