package app

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"

	"campuspay/internal/loadtest"
)

// cmdLoadtest is `campuspay loadtest`: see package loadtest. It exits
// non-zero when an invariant was violated.
func cmdLoadtest(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var cfg loadtest.Config
	fs := flag.NewFlagSet("loadtest", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.IntVar(&cfg.Students, "students", 800, "students in the synthetic school")
	fs.IntVar(&cfg.Items, "items", 8, "bill items per student")
	fs.IntVar(&cfg.Projects, "projects", 4, "fee projects the items are spread over (one pay flow each)")
	fs.DurationVar(&cfg.Duration, "duration", 0, "measured pay phase (default 20s)")
	fs.Float64Var(&cfg.Rate, "rate", 0, "open loop: pay flows started per second (0 = closed loop)")
	fs.IntVar(&cfg.Concurrency, "concurrency", 32, "closed loop: students paying back to back")
	fs.Int64Var(&cfg.MaxInFlight, "max-in-flight", 10000, "open loop: flows due beyond this many in flight are dropped")
	fs.Float64Var(&cfg.LoginRate, "login-rate", 0, "logins started per second (0 = as fast as --login-concurrency allows)")
	fs.IntVar(&cfg.LoginConcurrency, "login-concurrency", 8, "logins at once when --login-rate is 0")
	fs.BoolVar(&cfg.LoginStorm, "login-storm", false, "keep half the roll to log in during the pay phase")
	fs.StringVar(&cfg.DB, "db", "", "database DSN (default: a fresh temporary SQLite file)")
	targets := fs.String("target", "", "drive running servers instead (URL[,URL…]); needs --sandbox-url and --school or --prepare")
	fs.StringVar(&cfg.SandboxURL, "sandbox-url", "", "with --target: the sandbox's URL")
	fs.StringVar(&cfg.School, "school", "", "school code (default: a new one)")
	fs.BoolVar(&cfg.Prepare, "prepare", false, "with --target: create the school and its roll through the CLI against --db")
	pids := fs.String("server-pids", "", "with --target: the platform's process ids (PID[,PID…]), for CPU per flow")
	fs.StringVar(&cfg.MetricsToken, "metrics-token", env("CAMPUSPAY_METRICS_TOKEN", ""), "bearer token for the servers' /metrics")
	fs.StringVar(&cfg.PprofDir, "pprof", "", "save a CPU profile of each server (when it serves /debug/pprof) into this directory")
	fs.IntVar(&cfg.Servers, "servers", 1, "serve processes to start on the one --db (several need PostgreSQL); students are spread over them")
	fs.Float64Var(&cfg.TimeScale, "time-scale", 0.01, "our sandbox's notification retry schedule")
	fs.DurationVar(&cfg.PayTimeout, "pay-timeout", 0, "longest wait for paid after paying (default 30s)")
	fs.DurationVar(&cfg.PollInterval, "poll-interval", 0, "between two looks at an order (default 20ms)")
	fs.DurationVar(&cfg.CeilingTime, "ceiling-time", 0, "each ceiling measurement (default 2s)")
	if err := fs.Parse(args); err != nil || fs.NArg() > 0 {
		return errUsage
	}
	for _, t := range strings.Split(*targets, ",") {
		if t = strings.TrimSpace(t); t != "" {
			cfg.Targets = append(cfg.Targets, t)
		}
	}
	for _, p := range strings.Split(*pids, ",") {
		if p = strings.TrimSpace(p); p != "" {
			n, err := strconv.Atoi(p)
			if err != nil {
				return fmt.Errorf("--server-pids: %q is not a process id", p)
			}
			cfg.ServerPIDs = append(cfg.ServerPIDs, n)
		}
	}
	bin, err := os.Executable()
	if err != nil {
		return err
	}
	cfg.Binary = bin
	rep, err := loadtest.Run(ctx, cfg, stdout, stderr)
	if err != nil {
		return err
	}
	if n := len(rep.Violations); n > 0 {
		return fmt.Errorf("压力测试发现 %d 处不变量违规", n)
	}
	return nil
}
