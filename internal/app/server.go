// Package app wires campuspay together: configuration, the store, the
// services, the front doors on one mux, the worker and the sandbox; and
// the command-line interface. cmd/campuspay only calls Main.
package app

import (
	"cmp"
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"golang.org/x/net/netutil"

	"campuspay/internal/account"
	"campuspay/internal/admin"
	"campuspay/internal/api"
	"campuspay/internal/auth"
	"campuspay/internal/billing"
	"campuspay/internal/channel"
	"campuspay/internal/jobs"
	"campuspay/internal/notify"
	"campuspay/internal/outbound"
	"campuspay/internal/payment"
	"campuspay/internal/receipts"
	"campuspay/internal/reconcile"
	"campuspay/internal/remind"
	"campuspay/internal/sandbox"
	"campuspay/internal/sms"
	"campuspay/internal/store"
	"campuspay/internal/worker"
)

// Config is everything a server needs to start.
type Config struct {
	Addr      string // listen address, ":8080" or "127.0.0.1:0"
	DB        string // sqlite:PATH or postgres://…
	PublicURL string // how channels and browsers reach us; derived from the listener when empty
	Sandbox   bool   // mount the sandbox and use it as every school's channel
	// Demo serves GET /dev/totp, the current authenticator codes of the
	// demo's staff (campuspay demo only; refused with real channels).
	Demo        bool
	SandboxURL  string // use a sandbox running elsewhere (campuspay sandbox) instead
	SandboxKeys string // directory of the sandbox's keys
	ChannelsCfg string // JSON file of real merchant settings per school
	TimeScale   float64
	Worker      worker.Config
	Payments    payment.Config
	NoWorker    bool
	Log         *slog.Logger
	// TrustedProxies are reverse proxies whose X-Forwarded-For is believed.
	TrustedProxies []netip.Prefix
	// Metrics are not public (SPEC §6): MetricsToken lets /metrics answer on
	// the public listener to "Authorization: Bearer TOKEN"; MetricsAddr
	// serves them (and, with Pprof, /debug/pprof) on a listener of their own.
	MetricsToken string
	MetricsAddr  string
	Pprof        bool
	// Timeouts of the HTTP listeners; zero fields take DefaultTimeouts.
	Timeouts Timeouts
	// MaxConns bounds the public listener's open connections (0 means
	// DefaultMaxConns).
	MaxConns int
	// Phone configures the phone app: SMS provider, code secret, limits.
	Phone PhoneConfig
	// PlatformName is the platform's one name as people read it: the
	// portal's pages and the merchant name payers see at the channel
	// (the sandbox's pages too). "" means DefaultPlatformName.
	PlatformName string
}

// Timeouts bound how long a client may hold a connection.
type Timeouts struct {
	ReadHeader time.Duration // the request's headers
	Read       time.Duration // the whole request, body included
	Write      time.Duration // the whole answer
	Idle       time.Duration // a keep-alive connection between requests
}

// DefaultTimeouts: headers within 5 s, a whole request within 30 s (the
// largest body is an import file; notification and form bodies are
// small), an answer within 60 s (exports stream longer by setting their
// own deadline), an idle keep-alive connection for 30 s.
var DefaultTimeouts = Timeouts{ReadHeader: 5 * time.Second, Read: 30 * time.Second, Write: 60 * time.Second, Idle: 30 * time.Second}

func (t Timeouts) orDefault() Timeouts {
	d := DefaultTimeouts
	for _, f := range []struct{ v, def *time.Duration }{{&t.ReadHeader, &d.ReadHeader}, {&t.Read, &d.Read}, {&t.Write, &d.Write}, {&t.Idle, &d.Idle}} {
		if *f.v <= 0 {
			*f.v = *f.def
		}
	}
	return t
}

// DefaultMaxConns is the public listener's default bound on open
// connections: well above what the pay flow needs at this machine's
// ceiling, well below the process's file descriptor limit.
const DefaultMaxConns = 4096

// DefaultPlatformName is the platform's name unless configured.
const DefaultPlatformName = "校园缴费平台"

// Server is a running campuspay.
type Server struct {
	demo demoStaff // the demo's staff secrets, for /dev/totp

	URL      string
	Store    *store.Store
	Auth     *auth.Service
	Schools  *billing.Directory
	Payments *payment.Service
	Worker   *worker.Worker
	Sandbox  *sandbox.Sandbox
	Channels *channel.Registry
	Admin    *admin.Service // the finance office's console services
	Handler  http.Handler
	// Accounts are the phone app's accounts; SMSOutbox is the dev SMS
	// provider when it is the one in use (nil otherwise).
	Accounts  *account.Service
	SMSOutbox *sms.DevOutbox
	// SMS is the SMS provider in use (nil: none); Receipts issue and
	// verify receipts (缴费凭证); Reminders are the finance office's
	// payment reminders (催缴提醒).
	SMS       sms.Provider
	Receipts  *receipts.Service
	Reminders *remind.Service

	// MetricsURL is the metrics listener's base URL, when it has one.
	MetricsURL string

	// Reconcile is the daily reconciliation against the channels' statements.
	Reconcile *reconcile.Service

	log      *slog.Logger
	http     *http.Server
	listener net.Listener
	metrics  *http.Server
	trusted  []netip.Prefix
	cfg      Config
	// mobileSecret keys the phone app's login forms, derived from the SMS
	// code key so that every server of a deployment shares it.
	mobileSecret []byte
	cancel       context.CancelFunc
	wg           sync.WaitGroup
}

// Start opens the database, migrates it, builds the services and starts
// serving and the worker. Close stops everything.
func Start(ctx context.Context, cfg Config) (*Server, error) {
	log := cfg.Log
	if log == nil {
		log = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	}
	if cfg.DB == "" {
		cfg.DB = "sqlite:campuspay.db"
	}
	if cfg.PlatformName == "" {
		cfg.PlatformName = DefaultPlatformName
	}
	st, err := store.Open(ctx, cfg.DB)
	if err != nil {
		return nil, err
	}
	if err := st.Migrate(ctx); err != nil {
		st.Close()
		return nil, err
	}
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		st.Close()
		return nil, err
	}
	// Connections beyond MaxConns wait in the kernel's backlog instead of
	// taking file descriptors the database needs: an overload slows
	// answers down rather than failing the database's files.
	ln = netutil.LimitListener(ln, cmp.Or(cfg.MaxConns, DefaultMaxConns))
	s := &Server{Store: st, log: log, listener: ln, Channels: channel.NewRegistry(), trusted: cfg.TrustedProxies, cfg: cfg}
	s.URL = cfg.PublicURL
	if s.URL == "" {
		s.URL = "http://" + publicHost(ln.Addr().String())
	}
	if err := s.setupChannels(ctx, cfg); err != nil {
		s.Close()
		return nil, err
	}
	pcfg := cfg.Payments
	if pcfg.QueryInterval == 0 {
		pcfg = payment.DefaultConfig(s.URL)
	}
	pcfg.PublicURL = s.URL
	pcfg.Merchant = cfg.PlatformName
	pcfg.Busy = auth.YieldToPayments
	if pcfg.ApplyLanes == 0 {
		pcfg.ApplyLanes = st.WriteLanes()
	}
	s.Auth = auth.NewService(st, st.Now, nil)
	s.Schools = billing.NewDirectory(st)
	s.Payments = payment.NewService(st, s.Channels, pcfg, log, st.Now)
	if err := s.setupPhone(cfg); err != nil {
		s.Close()
		return nil, err
	}
	if err := s.setupReceipts(ctx); err != nil {
		s.Close()
		return nil, err
	}
	wcfg := cfg.Worker
	if wcfg.Poll == 0 {
		wcfg = worker.DefaultConfig()
	}
	s.Reconcile = reconcile.New(st, s.Channels, s.Payments, reconcile.Config{Now: st.Now, Log: log})
	handlers := s.Payments.Handlers()
	for kind, h := range s.Reconcile.Handlers() {
		handlers[kind] = h
	}
	s.Worker = worker.New(st, handlers, wcfg, log, st.Now)
	s.Handler = s.routes()
	s.http = newHTTPServer(s.Handler, log, cfg.Timeouts)
	if cfg.MetricsAddr != "" {
		mln, err := net.Listen("tcp", cfg.MetricsAddr)
		if err != nil {
			s.Close()
			return nil, err
		}
		s.MetricsURL = "http://" + publicHost(mln.Addr().String())
		s.metrics = newHTTPServer(s.metricsHandler(), log, cfg.Timeouts)
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			if err := s.metrics.Serve(mln); err != nil && !errors.Is(err, http.ErrServerClosed) {
				log.Error("metrics server", "err", err)
			}
		}()
	}
	runCtx, cancel := context.WithCancel(context.Background())
	s.cancel = cancel
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		if err := s.http.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("http server", "err", err)
		}
	}()
	if !cfg.NoWorker {
		if err := s.Reconcile.Schedule(ctx); err != nil {
			log.Warn("reconcile: schedule the daily runs", "err", err)
		}
		s.runSealer(runCtx)
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			s.Worker.Run(runCtx)
		}()
	}
	return s, nil
}

// newHTTPServer sets every timeout (see Timeouts): a slow client is
// dropped, not kept.
func newHTTPServer(h http.Handler, log *slog.Logger, t Timeouts) *http.Server {
	t = t.orDefault()
	return &http.Server{Handler: h, ReadHeaderTimeout: t.ReadHeader, ReadTimeout: t.Read,
		WriteTimeout: t.Write, IdleTimeout: t.Idle, MaxHeaderBytes: 32 << 10,
		ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelWarn)}
}

func publicHost(addr string) string {
	host, port, _ := net.SplitHostPort(addr)
	if host == "" || host == "::" || host == "0.0.0.0" {
		host = "127.0.0.1"
	}
	return net.JoinHostPort(host, port)
}

func (s *Server) setupChannels(ctx context.Context, cfg Config) error {
	client := outbound.Client(15*time.Second, 32)
	switch {
	case cfg.Sandbox || cfg.SandboxURL != "":
		dir := cfg.SandboxKeys
		if dir == "" {
			dir = "sandbox-keys"
		}
		keys, err := sandbox.LoadOrCreateKeys(dir)
		if err != nil {
			return fmt.Errorf("sandbox keys: %w", err)
		}
		base := cfg.SandboxURL
		if base == "" {
			s.Sandbox = sandbox.New(keys, sandbox.Options{Log: s.log, TimeScale: cfg.TimeScale, MerchantName: cfg.PlatformName})
			base = s.URL
		}
		// The one place channels are named: each adapter is wired here.
		up, wx, err := keys.Adapters(ctx, strings.TrimRight(base, "/"), client)
		if err != nil {
			return err
		}
		s.Channels.SetDefault(up)
		s.Channels.SetDefault(wx)
	}
	if cfg.ChannelsCfg != "" {
		return channel.LoadFile(ctx, cfg.ChannelsCfg, s.Channels, client, s.Store.SchoolByCode)
	}
	return nil
}

var (
	metricsOnce sync.Once
	httpReqs    *prometheus.CounterVec
)

// registerHTTPMetrics makes the process-wide request counter once.
func registerHTTPMetrics() {
	metricsOnce.Do(func() {
		httpReqs = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "campuspay_http_requests_total", Help: "HTTP requests by front door and status class."}, []string{"door", "code"})
		prometheus.MustRegister(httpReqs)
	})
}

// gatherers are every metric the server exports.
func (s *Server) gatherers() prometheus.Gatherers {
	registerHTTPMetrics()
	// Background work not yet done, by kind: a growing "query" count means
	// a channel is not answering.
	reg := prometheus.NewRegistry()
	jobCount := func(state string) func() float64 {
		return func() float64 {
			n, err := s.Store.Counts(context.Background())
			if err != nil {
				return -1
			}
			total := 0
			for _, v := range n[state] {
				total += v
			}
			return float64(total)
		}
	}
	reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "campuspay_jobs_pending", Help: "Jobs not done (all kinds)."}, jobCount(jobs.StatePending)))
	reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "campuspay_jobs_dead", Help: "Jobs given up after their last attempt, for a person to look at."}, jobCount(jobs.StateDead)))
	stats := s.Store.Stats()
	reg.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "campuspay_db_statements_total", Help: "Database statements run (BEGIN and COMMIT included)."},
		func() float64 { return float64(stats.Statements.Load()) }))
	reg.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "campuspay_db_transactions_total", Help: "Database write transactions begun."},
		func() float64 { return float64(stats.Transactions.Load()) }))
	reg.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "campuspay_db_retries_total", Help: "Transactions run again after a deadlock, serialization failure or busy database."},
		func() float64 { return float64(stats.Retries.Load()) }))
	return prometheus.Gatherers{prometheus.DefaultGatherer, reg}
}

// metricsHandler is the metrics listener: /metrics, and /debug/pprof when
// profiling is on.
func (s *Server) metricsHandler() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(s.gatherers(), promhttp.HandlerOpts{}))
	if s.cfg.Pprof {
		mux.HandleFunc("/debug/pprof/", pprof.Index)
		mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
		mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
		mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	}
	return mux
}

func (s *Server) routes() http.Handler {
	registerHTTPMetrics()
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		if err := s.Store.DB().PingContext(r.Context()); err != nil {
			http.Error(w, "database unavailable", http.StatusServiceUnavailable)
			return
		}
		w.Write([]byte("ok\n"))
	})
	if tok := s.cfg.MetricsToken; tok != "" {
		metrics := promhttp.HandlerFor(s.gatherers(), promhttp.HandlerOpts{})
		mux.HandleFunc("GET /metrics", func(w http.ResponseWriter, r *http.Request) {
			if subtle.ConstantTimeCompare([]byte(r.Header.Get("Authorization")), []byte("Bearer "+tok)) != 1 {
				w.Header().Set("WWW-Authenticate", `Bearer realm="metrics"`)
				http.Error(w, "metrics need a bearer token", http.StatusUnauthorized)
				return
			}
			metrics.ServeHTTP(w, r)
		})
	}
	mux.Handle("/notify/", counted("notify", notify.NewHandler(s.Payments, s.log)))
	mux.Handle("/api/v1/", counted("api", api.NewHandler(api.Deps{Auth: s.Auth, Payments: s.Payments, Schools: s.Schools,
		Accounts: s.Accounts, Receipts: s.Receipts, TrustedProxies: s.trusted, Log: s.log})))
	s.mountWeb(mux)
	s.mountPhone(mux)
	s.mountConsole(mux)
	if s.cfg.Demo && s.cfg.Sandbox {
		mux.HandleFunc("GET /dev/totp", s.devTOTP)
	}
	s.mountReceipts(mux)
	if s.Sandbox != nil {
		s.Sandbox.Mount(mux)
	}
	return mux
}

type statusWriter struct {
	http.ResponseWriter
	code int
}

func (w *statusWriter) WriteHeader(c int)           { w.code = c; w.ResponseWriter.WriteHeader(c) }
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

func counted(door string, h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sw := &statusWriter{ResponseWriter: w, code: 200}
		h.ServeHTTP(sw, r)
		httpReqs.WithLabelValues(door, fmt.Sprintf("%dxx", sw.code/100)).Inc()
	})
}

// Close stops serving, the worker and the sandbox, and closes the store.
func (s *Server) Close() error {
	if s.cancel != nil {
		s.cancel()
	}
	if s.metrics != nil {
		s.metrics.Close()
	}
	if s.http != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		s.http.Shutdown(ctx)
		cancel()
	} else if s.listener != nil {
		s.listener.Close()
	}
	s.wg.Wait()
	if s.Payments != nil {
		s.Payments.Close()
	}
	if s.Sandbox != nil {
		s.Sandbox.Close()
	}
	return s.Store.Close()
}

// absDir makes a directory path absolute for printing.
func absDir(p string) string {
	a, err := filepath.Abs(p)
	if err != nil {
		return p
	}
	return a
}

func defaultWorker() worker.Config { return worker.DefaultConfig() }
