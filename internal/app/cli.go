package app

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"campuspay/demo"
	"campuspay/internal/apperr"
	"campuspay/internal/billing"
	"campuspay/internal/importer"
	"campuspay/internal/sandbox"
	"campuspay/internal/store"
	"campuspay/internal/throttle"
)

const usage = `campuspay — tuition and campus fee payments

Usage:
  campuspay demo [--addr 127.0.0.1:8080]            fresh demo database, demo school, sandbox channels
  campuspay serve [--addr :8080] [--db DSN] [--sandbox] [--sandbox-url URL] [--sandbox-keys DIR] [--channels FILE]
  campuspay sandbox [--addr :9090] [--keys DIR]      the sandbox channels alone
  campuspay migrate [--db DSN]
  campuspay school create --code CODE --name NAME --region-code 500000 --region-name 重庆市 [--db DSN]
  campuspay import students|bills --school CODE FILE [--db DSN]
  campuspay journal verify [--db DSN]
  campuspay staff create --school CODE|--platform --role admin|clerk|auditor|operator --username NAME [--name 姓名]
  campuspay audit verify|seal [--db DSN]
  campuspay export payments|outstanding --school CODE [--from YYYY-MM-DD --to YYYY-MM-DD] --out FILE.xlsx
  campuspay reconcile --school CODE --channel unionpay|wechat --date YYYY-MM-DD [--channels FILE | --sandbox-url URL --sandbox-keys DIR]
                                                    exit 0 only when the day matches; 3 when it has differences
  campuspay loadtest [--students 800] [--duration 20s] [--concurrency 32 | --rate R] [--db DSN | --target URL …]

DSN is sqlite:PATH (default sqlite:campuspay.db) or a postgres:// URL.
Flags also read CAMPUSPAY_ADDR, CAMPUSPAY_DB, CAMPUSPAY_PUBLIC_URL, CAMPUSPAY_CHANNELS,
CAMPUSPAY_SMS_PROVIDER, CAMPUSPAY_SMS_CONFIG; CAMPUSPAY_SMS_SECRET keys stored SMS codes and
CAMPUSPAY_SMS_PER_DAY, _WINDOW, _MIN_INTERVAL, _CODE_TTL, _MAX_TRIES set R4's limits.
`

// Main runs the command line and returns the exit code.
func Main(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	var err error
	switch args[0] {
	case "demo":
		err = cmdDemo(ctx, args[1:], stdout, stderr)
	case "serve":
		err = cmdServe(ctx, args[1:], stdout, stderr)
	case "sandbox":
		err = cmdSandbox(ctx, args[1:], stdout, stderr)
	case "migrate":
		err = withStore(ctx, "migrate", args[1:], stderr, nil, func(st *store.Store, _ []string) error {
			fmt.Fprintln(stdout, "数据库已迁移到最新版本")
			return nil
		})
	case "school":
		if len(args) < 2 || args[1] != "create" {
			err = errUsage
			break
		}
		err = cmdSchoolCreate(ctx, args[2:], stdout, stderr)
	case "import":
		if len(args) < 2 || (args[1] != importer.Students && args[1] != importer.Bills) {
			err = errUsage
			break
		}
		err = cmdImport(ctx, args[1], args[2:], stdout, stderr)
	case "journal":
		if len(args) < 2 || args[1] != "verify" {
			err = errUsage
			break
		}
		err = cmdVerify(ctx, args[2:], stdout, stderr)
	case "loadtest":
		err = cmdLoadtest(ctx, args[1:], stdout, stderr)
	case "staff":
		err = cmdStaff(ctx, args[1:], stdout, stderr)
	case "audit":
		err = cmdAudit(ctx, args[1:], stdout, stderr)
	case "export":
		err = cmdExport(ctx, args[1:], stdout, stderr)
	case "reconcile":
		err = cmdReconcile(ctx, args[1:], stdout, stderr)
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return 0
	default:
		err = errUsage
	}
	if errors.Is(err, errUsage) {
		fmt.Fprint(stderr, usage)
		return 2
	}
	var ex *exitError
	if errors.As(err, &ex) {
		fmt.Fprintln(stderr, ex.msg)
		return ex.code
	}
	if err != nil {
		if e, ok := apperr.As(err); ok && e.Kind != apperr.Internal && e.Message != "" {
			fmt.Fprintln(stderr, "错误:", e.Message)
		} else {
			fmt.Fprintln(stderr, "错误:", err)
		}
		return 1
	}
	return 0
}

var errUsage = errors.New("usage")

func env(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

func dbFlag(fs *flag.FlagSet) *string {
	return fs.String("db", env("CAMPUSPAY_DB", "sqlite:campuspay.db"), "database: sqlite:PATH or postgres://…")
}

// parseInterspersed lets flags come after positional arguments
// (`import bills --school X FILE` and `import bills FILE --school X`).
func parseInterspersed(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		if fs.NArg() == 0 {
			return pos, nil
		}
		pos = append(pos, fs.Arg(0))
		args = fs.Args()[1:]
	}
}

// withStore parses a command's flags (flags adds its own; --db is always
// there), opens and migrates the store, and runs fn with the positional
// arguments. fn returns errUsage when the arguments are wrong.
func withStore(ctx context.Context, name string, args []string, stderr io.Writer, flags func(*flag.FlagSet), fn func(*store.Store, []string) error) error {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	db := dbFlag(fs)
	if flags != nil {
		flags(fs)
	}
	rest, err := parseInterspersed(fs, args)
	if err != nil {
		return errUsage
	}
	st, err := store.Open(ctx, *db)
	if err != nil {
		return err
	}
	defer st.Close()
	if err := st.Migrate(ctx); err != nil {
		return err
	}
	return fn(st, rest)
}

func cmdSchoolCreate(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var code, name, rc, rn string
	return withStore(ctx, "school create", args, stderr, func(fs *flag.FlagSet) {
		fs.StringVar(&code, "code", "", "school code")
		fs.StringVar(&name, "name", "", "school name")
		fs.StringVar(&rc, "region-code", "", "region code, e.g. 500000")
		fs.StringVar(&rn, "region-name", "", "region name, e.g. 重庆市")
	}, func(st *store.Store, _ []string) error {
		if code == "" || name == "" || rc == "" {
			return errUsage
		}
		if rn == "" {
			rn = rc
		}
		sc, err := st.CreateSchool(ctx, billing.School{Code: code, Name: name, RegionCode: rc, RegionName: rn, Policy: billing.DefaultPolicy()})
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "已创建学校 %s（%s），地区 %s %s\n", sc.Name, sc.Code, sc.RegionCode, rn)
		return nil
	})
}

func cmdImport(ctx context.Context, kind string, args []string, stdout, stderr io.Writer) error {
	var school string
	return withStore(ctx, "import "+kind, args, stderr, func(fs *flag.FlagSet) {
		fs.StringVar(&school, "school", "", "school code")
	}, func(st *store.Store, rest []string) error {
		if school == "" || len(rest) != 1 {
			return errUsage
		}
		sc, err := billing.NewDirectory(st).School(ctx, school)
		if err != nil {
			return err
		}
		f, err := os.Open(rest[0])
		if err != nil {
			return err
		}
		defer f.Close()
		stats, err := importer.Apply(ctx, st, sc.ID, kind, rest[0], f)
		if err != nil {
			var ie *importer.Errors
			if errors.As(err, &ie) {
				return fmt.Errorf("文件 %s 未导入（全部不生效）。%v", filepath.Base(rest[0]), err)
			}
			return err
		}
		fmt.Fprintf(stdout, "导入完成：%d 行，新增 %d，更新 %d，未变 %d\n", stats.Rows, stats.Created, stats.Updated, stats.Unchanged)
		return nil
	})
}

func cmdVerify(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	return withStore(ctx, "journal verify", args, stderr, nil, func(st *store.Store, _ []string) error {
		rep, err := st.VerifyJournal(ctx)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "分录 %d 条，过账 %d 条\n", rep.Entries, rep.Postings)
		accts := make([]string, 0, len(rep.Totals))
		for a := range rep.Totals {
			accts = append(accts, a)
		}
		sort.Strings(accts)
		for _, a := range accts {
			fmt.Fprintf(stdout, "  %-40s %14s\n", a, rep.Totals[a].Yuan())
		}
		if rep.OK() {
			fmt.Fprintln(stdout, "journal OK: every entry balances; every student's receivable equals the sum of their unpaid lines")
			return nil
		}
		for _, id := range rep.Unbalanced {
			fmt.Fprintf(stdout, "UNBALANCED entry %d\n", id)
		}
		for id, v := range rep.ReceivableMismatch {
			fmt.Fprintf(stdout, "MISMATCH student %d: journal %d fen, unpaid lines %d fen\n", id, v[0], v[1])
		}
		return errors.New("journal verification failed")
	})
}

func serveFlags(fs *flag.FlagSet, cfg *Config, defAddr string) {
	fs.StringVar(&cfg.Addr, "addr", env("CAMPUSPAY_ADDR", defAddr), "listen address")
	fs.StringVar(&cfg.PublicURL, "public-url", env("CAMPUSPAY_PUBLIC_URL", ""), "URL channels and browsers reach this server on")
	fs.StringVar(&cfg.SandboxKeys, "sandbox-keys", env("CAMPUSPAY_SANDBOX_KEYS", "sandbox-keys"), "directory of the sandbox's keys")
	fs.Float64Var(&cfg.TimeScale, "sandbox-time-scale", 1, "compress the sandbox's notification retry schedule (0.01 = 100× faster)")
	fs.DurationVar(&cfg.Payments.FirstQuery, "first-query", 15*time.Second, "first channel query after an order is created")
	fs.DurationVar(&cfg.Payments.QueryInterval, "query-interval", 15*time.Second, "step between channel queries")
	fs.DurationVar(&cfg.Payments.QueryMaxInterval, "query-max-interval", 30*time.Second, "longest wait between channel queries")
	fs.DurationVar(&cfg.Worker.Poll, "worker-poll", time.Second, "how often the worker looks for due jobs")
	fs.StringVar(&cfg.MetricsAddr, "metrics-addr", env("CAMPUSPAY_METRICS_ADDR", ""), "serve /metrics on this address of its own")
	fs.StringVar(&cfg.MetricsToken, "metrics-token", env("CAMPUSPAY_METRICS_TOKEN", ""), "serve /metrics on the public listener to this bearer token")
	fs.BoolVar(&cfg.Pprof, "pprof", false, "serve /debug/pprof on the metrics listener")
	fs.IntVar(&cfg.MaxConns, "max-conns", DefaultMaxConns, "open connections the public listener accepts at once; more wait in the backlog")
	fs.StringVar(&cfg.Phone.SMSProvider, "sms", env("CAMPUSPAY_SMS_PROVIDER", ""), "SMS provider of the phone app: dev (sandbox only) or tencent (default: dev with the sandbox, none otherwise)")
	fs.StringVar(&cfg.Phone.TencentFile, "sms-config", env("CAMPUSPAY_SMS_CONFIG", ""), "Tencent Cloud SMS settings file (JSON; the keys stay in environment variables); the code key is "+EnvSMSSecret)
	fs.StringVar(&cfg.PlatformName, "platform-name", env("CAMPUSPAY_PLATFORM_NAME", DefaultPlatformName), "the platform's name on its pages and as the merchant payers see at the channel")
	fs.Func("trusted-proxies", "reverse proxies whose X-Forwarded-For is believed (CIDRs, comma-separated; also "+throttle.EnvTrustedProxies+")", func(v string) error {
		p, err := throttle.ParseTrustedProxies(v)
		cfg.TrustedProxies = p
		return err
	})
}

// trustedFromEnv reads CAMPUSPAY_TRUSTED_PROXIES when the flag was not given.
func trustedFromEnv(cfg *Config) error {
	if cfg.TrustedProxies != nil {
		return nil
	}
	p, err := throttle.ParseTrustedProxies(os.Getenv(throttle.EnvTrustedProxies))
	cfg.TrustedProxies = p
	return err
}

func cmdServe(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var cfg Config
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	serveFlags(fs, &cfg, ":8080")
	fs.StringVar(&cfg.DB, "db", env("CAMPUSPAY_DB", "sqlite:campuspay.db"), "database: sqlite:PATH or postgres://…")
	fs.BoolVar(&cfg.Sandbox, "sandbox", false, "mount the sandbox channels and pay through them")
	fs.StringVar(&cfg.SandboxURL, "sandbox-url", "", "pay through a sandbox running elsewhere (campuspay sandbox)")
	fs.StringVar(&cfg.ChannelsCfg, "channels", env("CAMPUSPAY_CHANNELS", ""), "merchant settings file (JSON)")
	if err := fs.Parse(args); err != nil {
		return errUsage
	}
	if err := trustedFromEnv(&cfg); err != nil {
		return err
	}
	fillWorker(&cfg)
	s, err := Start(ctx, cfg)
	if err != nil {
		return err
	}
	defer s.Close()
	fmt.Fprintf(stdout, "campuspay 已启动：%s\n", s.URL)
	if s.MetricsURL != "" {
		fmt.Fprintf(stdout, "监控指标：%s/metrics\n", s.MetricsURL)
	}
	<-ctx.Done()
	return nil
}

func fillWorker(cfg *Config) {
	w := cfg.Worker
	poll := w.Poll
	cfg.Worker = defaultWorker()
	if poll > 0 {
		cfg.Worker.Poll = poll
	}
}

func cmdSandbox(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("sandbox", flag.ContinueOnError)
	fs.SetOutput(stderr)
	addr := fs.String("addr", env("CAMPUSPAY_SANDBOX_ADDR", ":9090"), "listen address")
	keys := fs.String("keys", env("CAMPUSPAY_SANDBOX_KEYS", "sandbox-keys"), "directory of the sandbox's keys")
	scale := fs.Float64("time-scale", 1, "compress the notification retry schedule")
	name := fs.String("platform-name", env("CAMPUSPAY_PLATFORM_NAME", DefaultPlatformName), "the merchant name the payer pages show")
	if err := fs.Parse(args); err != nil {
		return errUsage
	}
	k, err := sandbox.LoadOrCreateKeys(*keys)
	if err != nil {
		return err
	}
	log := slog.New(slog.NewTextHandler(stderr, nil))
	sb := sandbox.New(k, sandbox.Options{Log: log, TimeScale: *scale, MerchantName: *name})
	defer sb.Close()
	srv := newHTTPServer(sb.Handler(), log, Timeouts{})
	srv.Addr = *addr
	errc := make(chan error, 1)
	go func() { errc <- srv.ListenAndServe() }()
	fmt.Fprintf(stdout, "支付沙箱已启动：%s/sandbox/（密钥目录 %s）\n", *addr, absDir(*keys))
	select {
	case <-ctx.Done():
		sctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		defer cancel()
		return srv.Shutdown(sctx)
	case err := <-errc:
		return err
	}
}

// DemoSchool is the demo school's code.
const DemoSchool = "cqjz"

func cmdDemo(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var cfg Config
	fs := flag.NewFlagSet("demo", flag.ContinueOnError)
	fs.SetOutput(stderr)
	serveFlags(fs, &cfg, env("CAMPUSPAY_ADDR", "127.0.0.1:8080"))
	dir := fs.String("dir", "", "where to keep the demo database (default: a new temporary folder)")
	if err := fs.Parse(args); err != nil {
		return errUsage
	}
	if *dir == "" {
		d, err := os.MkdirTemp("", "campuspay-demo-")
		if err != nil {
			return err
		}
		*dir = d
	}
	if err := os.MkdirAll(*dir, 0o700); err != nil {
		return err
	}
	dbPath := filepath.Join(*dir, "campuspay-demo.db")
	for _, suffix := range []string{"", "-wal", "-shm"} {
		os.Remove(dbPath + suffix)
	}
	cfg.DB = "sqlite:" + dbPath
	cfg.Sandbox = true
	cfg.Demo = true
	if cfg.SandboxKeys == "sandbox-keys" {
		cfg.SandboxKeys = filepath.Join(*dir, "sandbox-keys")
	}
	fillWorker(&cfg)
	s, err := Start(ctx, cfg)
	if err != nil {
		return err
	}
	defer s.Close()
	if err := LoadDemo(ctx, s.Store, stdout); err != nil {
		return err
	}
	sc, err := s.Schools.School(ctx, DemoSchool)
	if err != nil {
		return err
	}
	staff, err := s.AddDemoStaff(ctx, sc.ID)
	if err != nil {
		return err
	}
	var staffLines strings.Builder
	for _, h := range staff {
		fmt.Fprintf(&staffLines, "  %-13s %s，一次性密码 %s\n", h.Staff.Username, h.Staff.Role.Label(), h.Password)
	}
	fmt.Fprintf(stdout, `
campuspay 演示已启动
  首页          %[1]s/
  学生缴费平台  %[1]s/s/%[2]s/
  手机缴费      %[1]s/m/（手机号 + 短信验证码登录，验证码见 %[1]s/dev/sms?phone=手机号）
  支付沙箱      %[1]s/sandbox/
  接口文档      %[1]s/api/v1/openapi.json
演示登录：学号 2026010001 … 2026010300，初始密码 111111（首次登录须修改）
手机端绑定学生：学号 + 姓名 + 身份证号后 6 位（见 demo/students.csv）
银联测试卡：6222021000000000009（工商银行，密码 123456，预留手机 13800000001，短信验证码 111111）
财务后台      %[1]s/admin/（用户名 + 一次性密码 + 动态验证码，验证码见 %[1]s/dev/totp；首次登录须修改密码）
%[4]s数据库：%[3]s
按 Ctrl+C 退出。
`, s.URL, DemoSchool, dbPath, staffLines.String())
	<-ctx.Done()
	return nil
}

// LoadDemo creates the demo school and imports the demo students and bills.
func LoadDemo(ctx context.Context, st *store.Store, out io.Writer) error {
	sc, err := st.CreateSchool(ctx, billing.School{Code: DemoSchool, Name: "重庆建筑职业学院（演示）", RegionCode: "500000", RegionName: "重庆市", Policy: billing.DefaultPolicy()})
	if err != nil {
		return err
	}
	for _, f := range []struct{ kind, name string }{{importer.Students, "students.csv"}, {importer.Bills, "bills.csv"}} {
		r, err := demo.Files.Open(f.name)
		if err != nil {
			return err
		}
		stats, err := importer.Apply(ctx, st, sc.ID, f.kind, f.name, r)
		r.Close()
		if err != nil {
			return fmt.Errorf("demo %s: %w", f.name, err)
		}
		fmt.Fprintf(out, "已导入 %-12s %d 行\n", f.name, stats.Rows)
	}
	n, _ := st.CountStudents(ctx, sc.ID)
	fmt.Fprintf(out, "演示学校 %s（%s）：%d 名学生，两个收费大项目（学费住宿费、代收费）\n", sc.Name, sc.Code, n)
	return nil
}
