package app

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"campuspay/internal/admin"
	"campuspay/internal/adminapi"
	"campuspay/internal/audit"
	"campuspay/internal/billing"
	"campuspay/internal/channel/unionpay"
	"campuspay/internal/channel/wechat"
	"campuspay/internal/payment"
	"campuspay/internal/store"
)

// cmdStaff is `campuspay staff create --school CODE|--platform --role R
// --username NAME`: it prints the one-time password, the TOTP enrolment
// (otpauth URL and secret) and the recovery codes, once.
func cmdStaff(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] != "create" {
		return errUsage
	}
	var school, role, username, name string
	var platform bool
	return withStore(ctx, "staff create", args[1:], stderr, func(fs *flag.FlagSet) {
		fs.StringVar(&school, "school", "", "school code (for admin, clerk, auditor)")
		fs.BoolVar(&platform, "platform", false, "a platform operator (no school)")
		fs.StringVar(&role, "role", "", "operator, admin, clerk or auditor")
		fs.StringVar(&username, "username", "", "login name")
		fs.StringVar(&name, "name", "", "display name")
	}, func(st *store.Store, rest []string) error {
		if len(rest) != 0 || username == "" || role == "" || platform == (school != "") {
			return errUsage
		}
		svc := admin.New(st, admin.Config{Now: st.Now})
		n := admin.NewStaff{Role: admin.Role(role), Username: username, DisplayName: name}
		if school != "" {
			sc, err := billing.NewDirectory(st).School(ctx, school)
			if err != nil {
				return err
			}
			n.SchoolID = sc.ID
		}
		h, err := svc.CreateStaff(ctx, admin.System("cli"), n)
		if err != nil {
			return err
		}
		where := "平台"
		if h.Staff.SchoolCode != "" {
			where = "学校 " + h.Staff.SchoolCode
		}
		fmt.Fprintf(stdout, "已创建工作人员 %s（%s，%s）。以下信息只显示这一次，请当面交给本人：\n", h.Staff.Username, h.Staff.Role.Label(), where)
		fmt.Fprintf(stdout, "一次性密码：%s（首次登录后须修改）\n", h.Password)
		fmt.Fprintf(stdout, "验证器（TOTP）：%s\n", h.Enrolment.URL)
		fmt.Fprintf(stdout, "验证器密钥（无法扫码时手动输入）：%s\n", h.Enrolment.Secret)
		fmt.Fprintln(stdout, "恢复码（每条可代替动态验证码登录一次）：")
		for _, c := range h.RecoveryCodes {
			fmt.Fprintln(stdout, "  "+c)
		}
		return nil
	})
}

// cmdAudit is `campuspay audit verify` (exit 0 only when every chain and
// every journal seal is intact, else naming the first broken row) and
// `campuspay audit seal` (seal the journal's new entries now).
func cmdAudit(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || (args[0] != "verify" && args[0] != "seal") {
		return errUsage
	}
	return withStore(ctx, "audit "+args[0], args[1:], stderr, nil, func(st *store.Store, rest []string) error {
		if len(rest) != 0 {
			return errUsage
		}
		svc := admin.New(st, admin.Config{Now: st.Now})
		if args[0] == "seal" {
			sealed, err := svc.SealJournal(ctx)
			if err != nil {
				return err
			}
			if sealed {
				fmt.Fprintln(stdout, "已把新的资金流水封存进审计日志")
			} else {
				fmt.Fprintln(stdout, "没有需要封存的新流水（或流水正忙，稍后再试）")
			}
			return nil
		}
		rep, err := svc.VerifyAudit(ctx, admin.System("cli"), 0)
		if err != nil {
			return err
		}
		if !rep.OK() {
			b := rep.Break
			chain := "platform"
			if b.Chain != audit.PlatformChain {
				chain = fmt.Sprintf("school %d", b.Chain)
			}
			fmt.Fprintf(stdout, "audit log BROKEN at row id %d (chain %s, seq %d): %s\n", b.ID, chain, b.Seq, b.Reason)
			return errors.New("audit verification failed")
		}
		fmt.Fprintf(stdout, "audit OK: %d chains, %d rows intact; %d journal seals cover %d entries; %d entries written since the last seal\n",
			rep.Chains, rep.Rows, rep.Seals, rep.Sealed, rep.Unsealed)
		return nil
	})
}

// cmdExport is `campuspay export payments|outstanding --school CODE
// [--from D --to D] --out FILE.xlsx`.
func cmdExport(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || (args[0] != admin.ExportPaymentsKind && args[0] != admin.ExportOutstandingKind) {
		return errUsage
	}
	kind := args[0]
	var school, from, to, out string
	return withStore(ctx, "export "+kind, args[1:], stderr, func(fs *flag.FlagSet) {
		fs.StringVar(&school, "school", "", "school code")
		fs.StringVar(&from, "from", "", "first day (YYYY-MM-DD, Beijing time)")
		fs.StringVar(&to, "to", "", "last day, included")
		fs.StringVar(&out, "out", "", "the .xlsx file to write")
	}, func(st *store.Store, rest []string) error {
		if len(rest) != 0 || school == "" || out == "" || filepath.Ext(out) != ".xlsx" {
			return errUsage
		}
		sc, err := billing.NewDirectory(st).School(ctx, school)
		if err != nil {
			return err
		}
		svc := admin.New(st, admin.Config{Now: st.Now, ChannelLabel: knownChannelLabel})
		tmp, err := os.CreateTemp(filepath.Dir(out), ".export-*.xlsx")
		if err != nil {
			return err
		}
		defer os.Remove(tmp.Name())
		w := bufio.NewWriterSize(tmp, 1<<20)
		p := admin.System("cli")
		switch kind {
		case admin.ExportPaymentsKind:
			f, ok1 := adminapi.ParseDay(from)
			t, ok2 := adminapi.ParseDay(to)
			if !ok1 || !ok2 {
				tmp.Close()
				return fmt.Errorf("请用 --from 和 --to 指定起止日期（YYYY-MM-DD）")
			}
			err = svc.ExportPayments(ctx, p, sc.ID, f, t.Add(24*time.Hour), w)
		default:
			err = svc.ExportOutstanding(ctx, p, sc.ID, w)
		}
		if err == nil {
			err = w.Flush()
		}
		if cerr := tmp.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return err
		}
		if err := os.Rename(tmp.Name(), out); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "已导出 %s\n", out)
		return nil
	})
}

// knownChannelLabel names a channel for people where no merchant is
// configured (the command line's exports): the adapters' own labels.
func knownChannelLabel(name string) string {
	for _, info := range []payment.ChannelInfo{unionpay.Info, wechat.Info} {
		if info.Name == name {
			return info.Label
		}
	}
	return name
}
