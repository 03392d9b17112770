package app

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"campuspay/internal/admin"
	"campuspay/internal/billing"
	"campuspay/internal/channel"
	"campuspay/internal/payment"
	"campuspay/internal/reconcile"
	"campuspay/internal/sandbox"
	"campuspay/internal/store"
)

// ExitDifferences is the exit code of `campuspay reconcile` when the day
// has differences (1 is an error, 2 a usage mistake).
const ExitDifferences = 3

// exitError ends the command line with its own code and message.
type exitError struct {
	code int
	msg  string
}

func (e *exitError) Error() string { return e.msg }

// cmdReconcile is `campuspay reconcile --school CODE --channel
// unionpay|wechat --date YYYY-MM-DD` (SPEC §6): it fetches the channel's
// statement of that day, matches it against the books, asks the channel
// about each difference and resolves what its answer settles, records the
// run (audited, actor "system"), prints each difference with what was
// done, and exits 0 only when there is none (ExitDifferences otherwise).
// The channels are the server's: --channels FILE, or a sandbox at
// --sandbox-url with its --sandbox-keys.
func cmdReconcile(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var school, ch, day, channelsFile, sandboxURL, sandboxKeys, publicURL string
	return withStore(ctx, "reconcile", args, stderr, func(fs *flag.FlagSet) {
		fs.StringVar(&school, "school", "", "school code")
		fs.StringVar(&ch, "channel", "", "unionpay or wechat")
		fs.StringVar(&day, "date", "", "the day to reconcile, YYYY-MM-DD (Asia/Shanghai)")
		fs.StringVar(&channelsFile, "channels", env("CAMPUSPAY_CHANNELS", ""), "merchant settings file (JSON)")
		fs.StringVar(&sandboxURL, "sandbox-url", env("CAMPUSPAY_SANDBOX_URL", ""), "the sandbox's base URL, when the channels are the sandbox's")
		fs.StringVar(&sandboxKeys, "sandbox-keys", env("CAMPUSPAY_SANDBOX_KEYS", "sandbox-keys"), "directory of the sandbox's keys")
		fs.StringVar(&publicURL, "public-url", env("CAMPUSPAY_PUBLIC_URL", ""), "URL channels reach the server on")
	}, func(st *store.Store, rest []string) error {
		if len(rest) != 0 || school == "" || ch == "" || day == "" {
			return errUsage
		}
		if channelsFile == "" && sandboxURL == "" {
			return fmt.Errorf("请用 --channels 指定商户配置文件，或用 --sandbox-url 指定支付沙箱")
		}
		sc, err := billing.NewDirectory(st).School(ctx, school)
		if err != nil {
			return err
		}
		reg, err := cliChannels(ctx, st, channelsFile, sandboxURL, sandboxKeys)
		if err != nil {
			return err
		}
		log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
		pcfg := payment.DefaultConfig(publicURL)
		pay := payment.NewService(st, reg, pcfg, log, st.Now)
		defer pay.Close()
		svc := reconcile.New(st, reg, pay, reconcile.Config{Now: st.Now, Log: log})
		rec, err := svc.Run(ctx, admin.System("cli"), sc.ID, ch, day)
		if err != nil {
			return err
		}
		printReconciliation(stdout, rec)
		if !rec.OK() {
			return &exitError{code: ExitDifferences, msg: fmt.Sprintf("对账发现 %d 笔差异（待人工核查 %d 笔）", rec.DifferenceCount, rec.Unresolved)}
		}
		return nil
	})
}

// cliChannels builds the channel adapters as the server does.
func cliChannels(ctx context.Context, st *store.Store, channelsFile, sandboxURL, keysDir string) (*channel.Registry, error) {
	reg := channel.NewRegistry()
	client := &http.Client{Timeout: 2 * time.Minute}
	if sandboxURL != "" {
		keys, err := sandbox.LoadOrCreateKeys(keysDir)
		if err != nil {
			return nil, fmt.Errorf("sandbox keys: %w", err)
		}
		up, wx, err := keys.Adapters(ctx, strings.TrimRight(sandboxURL, "/"), client)
		if err != nil {
			return nil, err
		}
		reg.SetDefault(up)
		reg.SetDefault(wx)
	}
	if channelsFile != "" {
		if err := channel.LoadFile(ctx, channelsFile, reg, client, st.SchoolByCode); err != nil {
			return nil, err
		}
	}
	return reg, nil
}

// printReconciliation writes a run as a finance clerk reads it.
func printReconciliation(w io.Writer, r reconcile.Reconciliation) {
	fmt.Fprintf(w, "%s %s %s 对账：%s\n", r.SchoolCode, r.Channel, r.Day, reconcile.StatusLabel(r.Status))
	fmt.Fprintf(w, "  对账单：收款 %d 笔 %s 元，退款 %d 笔 %s 元\n", r.Statement.Payments, r.Statement.PaymentAmount.Yuan(),
		r.Statement.Refunds, r.Statement.RefundAmount.Yuan())
	fmt.Fprintf(w, "  平台：  收款 %d 笔 %s 元，退款 %d 笔 %s 元\n", r.Platform.Payments, r.Platform.PaymentAmount.Yuan(),
		r.Platform.Refunds, r.Platform.RefundAmount.Yuan())
	fmt.Fprintf(w, "  逐笔一致 %d 笔，差异 %d 笔\n", r.Matched, r.DifferenceCount)
	for i, d := range r.Differences {
		fmt.Fprintf(w, "差异 %d：%s %s（%s）订单 %s 交易 %s 对账单 %s 元 平台 %s 元\n", i+1, reconcile.KindLabel(d.Kind), d.Kind,
			reconcile.TxnKindLabel(d.TxnKind), d.OrderNo, d.Ref, d.ChannelAmount.Yuan(), d.PlatformAmount.Yuan())
		fmt.Fprintf(w, "  处理：%s（%s）%s\n", reconcile.ActionLabel(d.Action), d.Action, d.Note)
	}
}
