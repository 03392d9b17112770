package reconcile

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"strings"
	"time"

	"campuspay/internal/admin"
	"campuspay/internal/apperr"
	"campuspay/internal/audit"
	"campuspay/internal/billing"
	"campuspay/internal/money"
	"campuspay/internal/payment"
)

// Stable error codes of reconciliation.
const (
	CodeInvalidDate       = "invalid_date"
	CodeNoStatement       = "statement_unavailable" // the channel serves no statement for this school
	CodeStatementNotReady = "statement_not_ready"   // the channel has not issued the day's statement yet
	CodeNotFound          = "reconciliation_not_found"
)

// ActAudit is the audit action of a reconciliation run.
const ActAudit = "reconcile.run"

// Payments is the payment service's path that applies what a channel
// confirms (payment.Service.ApplySuccess): a success is applied to its
// order exactly once, kept as an overpayment, or kept in suspense.
type Payments interface {
	ApplySuccess(ctx context.Context, r payment.Result, source, raw string) (payment.Outcome, error)
}

var _ Payments = (*payment.Service)(nil)

// Source is how a resolved payment is recorded (payments_received.source).
const Source = "reconcile"

// Config holds the service's settings; zero fields take defaults.
type Config struct {
	Now func() time.Time
	Log *slog.Logger
	// MaxResolve bounds how many differences one run asks the channel
	// about (a statement of another merchant or day would make every
	// line a difference; a person looks at that). Default 200.
	MaxResolve int
	// DailyAt is when, after midnight in Shanghai, the day before is
	// reconciled by itself. Default 6 h.
	DailyAt time.Duration
	// RetryAfter is how long the daily run waits for a statement the
	// channel has not issued yet, at most DailyAttempts times. Defaults
	// 1 h and 12.
	RetryAfter    time.Duration
	DailyAttempts int
}

// Service reconciles statements against the books.
type Service struct {
	st       Store
	channels payment.Channels
	pay      Payments
	cfg      Config
}

// New wires a Service.
func New(st Store, channels payment.Channels, pay Payments, cfg Config) *Service {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	if cfg.MaxResolve <= 0 {
		cfg.MaxResolve = 200
	}
	if cfg.DailyAt <= 0 {
		cfg.DailyAt = 6 * time.Hour
	}
	if cfg.RetryAfter <= 0 {
		cfg.RetryAfter = time.Hour
	}
	if cfg.DailyAttempts <= 0 {
		cfg.DailyAttempts = 12
	}
	return &Service{st: st, channels: channels, pay: pay, cfg: cfg}
}

// school checks a principal's permission on a school and loads it.
func (s *Service) school(ctx context.Context, p admin.Principal, perm admin.Perm, schoolID int64) (billing.School, error) {
	if p.Staff.Role == "" {
		return billing.School{}, admin.ErrUnauthorized
	}
	if !p.Can(perm, schoolID) {
		return billing.School{}, admin.ErrForbidden.With("permission", string(perm))
	}
	sc, err := s.st.SchoolByID(ctx, schoolID)
	if payment.IsNotFound(err) {
		return sc, apperr.New(apperr.NotFound, billing.CodeSchoolNotFound, "学校不存在")
	}
	return sc, err
}

// Channels lists the channels that serve statements, in display order,
// with their names for people.
func (s *Service) Channels() []payment.ChannelInfo {
	var out []payment.ChannelInfo
	for _, n := range s.channels.Names() {
		if ch := s.channels.Any(n); ch != nil && ch.Capabilities().Statement {
			out = append(out, ch.Info())
		}
	}
	return out
}

// statementChannel is the school's adapter of a channel and its statement.
func (s *Service) statementChannel(schoolID int64, channel string) (payment.Channel, StatementSource, error) {
	known := false
	for _, n := range s.channels.Names() {
		known = known || n == channel
	}
	if !known {
		return nil, nil, apperr.New(apperr.Invalid, payment.CodeInvalidChannel, "渠道须为 "+strings.Join(s.channels.Names(), " 或 "))
	}
	ch, err := s.channels.For(schoolID, channel)
	if err != nil {
		return nil, nil, apperr.New(apperr.Invalid, CodeNoStatement, "本校未开通该支付渠道").Wrap(err)
	}
	src, ok := ch.(StatementSource)
	if !ok || !ch.Capabilities().Statement {
		return nil, nil, apperr.New(apperr.Invalid, CodeNoStatement, "该支付渠道不提供对账单")
	}
	return ch, src, nil
}

// Run reconciles a school's channel on one day (YYYY-MM-DD, Shanghai)
// now, as p: it fetches the statement, matches every line against the
// books, asks the channel about each difference and resolves what its
// answer settles, and records the run with its audit row. A day that has
// not begun is refused; a statement the channel has not issued yet is
// statement_not_ready (recorded as a failed run).
func (s *Service) Run(ctx context.Context, p admin.Principal, schoolID int64, channel, day string) (Reconciliation, error) {
	sc, err := s.school(ctx, p, admin.PermReconcile, schoolID)
	if err != nil {
		return Reconciliation{}, err
	}
	start, err := ParseDay(day)
	if err != nil {
		return Reconciliation{}, apperr.New(apperr.Invalid, CodeInvalidDate, "日期须为 YYYY-MM-DD 格式，例如 2026-09-01")
	}
	if start.After(s.cfg.Now()) {
		return Reconciliation{}, apperr.New(apperr.Invalid, CodeInvalidDate, "只能对今天及以前的日期对账")
	}
	return s.run(ctx, p, sc, channel, start, nil)
}

// run is Run once the principal and the day are checked. cache, when not
// nil, keeps each merchant's statement for the other schools it serves.
func (s *Service) run(ctx context.Context, p admin.Principal, sc billing.School, channel string, start time.Time, cache map[string]fetched) (Reconciliation, error) {
	ch, src, err := s.statementChannel(sc.ID, channel)
	if err != nil {
		return Reconciliation{}, err
	}
	day := DayOf(start)
	rec := Reconciliation{SchoolID: sc.ID, SchoolCode: sc.Code, Channel: channel, Day: day, RunBy: actor(p)}
	scope := Scope{SchoolID: sc.ID, Channel: channel, MerchantID: ch.MerchantID(), From: start, To: start.AddDate(0, 0, 1)}
	key := channel + "\x00" + ch.MerchantID()
	got, ok := cache[key]
	if !ok {
		got.lines, got.err = src.Statement(ctx, start)
		if cache != nil {
			cache[key] = got
		}
	}
	lines, ferr := got.lines, got.err
	if ferr != nil && !errors.Is(ferr, payment.ErrNoStatement) {
		s.cfg.Log.Warn("reconcile: statement", "school", sc.Code, "channel", channel, "day", day, "err", ferr)
		rec.Status, rec.Error = StatusFailed, "未能取得渠道对账单，请稍后重试"
		if err := s.save(ctx, p, &rec); err != nil {
			return rec, err
		}
		return rec, apperr.New(apperr.BadGateway, payment.CodeChannelUnavailable, "未能取得渠道对账单，请稍后重试").Wrap(ferr)
	}
	records, err := s.dayRecords(ctx, scope)
	if err != nil {
		return rec, err
	}
	if ferr != nil { // no statement for the day
		if len(records) > 0 {
			rec.Status, rec.Error = StatusFailed, "渠道尚未提供该日对账单"
			for _, r := range records {
				rec.Platform.add(r.Kind, r.Amount)
			}
			if err := s.save(ctx, p, &rec); err != nil {
				return rec, err
			}
			return rec, apperr.New(apperr.Conflict, CodeStatementNotReady, "渠道尚未提供 "+day+" 的对账单，请稍后再对账").Wrap(ferr)
		}
		lines = nil // no transactions on either side
	}
	found, err := s.compare(ctx, &rec, ch, lines, records)
	if err != nil {
		return rec, err
	}
	s.resolveAll(ctx, ch, day, found, &rec)
	if err := s.save(ctx, p, &rec); err != nil {
		return rec, err
	}
	return rec, nil
}

// placedNear is how many days around a day a reconciliation looks for
// money an earlier run recorded late (on the day it ran) but placed on
// the statement's day.
const placedNear = 10

// dayRecords is the books of a scope, less what a reconciliation of a
// nearby day recorded from its own statement (a channel-only success
// applied, or kept in suspense, on the morning after): that money is on
// the other day's statement, not on this one.
func (s *Service) dayRecords(ctx context.Context, sc Scope) ([]Record, error) {
	records, err := s.st.ReconcileRecords(ctx, sc)
	if err != nil || len(records) == 0 {
		return records, err
	}
	var days []string
	for d := -placedNear; d <= placedNear; d++ {
		if d != 0 {
			days = append(days, DayOf(sc.From.AddDate(0, 0, d)))
		}
	}
	placed, err := s.st.ReconcileChannelOnly(ctx, sc.SchoolID, sc.Channel, days)
	if err != nil || len(placed) == 0 {
		return records, err
	}
	elsewhere := map[string]bool{}
	for _, d := range placed {
		if d.TxnKind == payment.StatementPayment && (d.Action == ActionApplied || d.Action == ActionOverpayment || d.Action == ActionSuspense) {
			elsewhere[d.Ref] = true
		}
	}
	kept := records[:0]
	for _, r := range records {
		if r.Kind == payment.StatementRefund || !elsewhere[r.ChannelTxnID] {
			kept = append(kept, r)
		}
	}
	return kept, nil
}

// finding is one difference before it is resolved.
type finding struct {
	kind   string
	line   *payment.StatementLine
	record *Record
	order  *OrderRef // the order a channel-only line names, when the books have it
}

// compare matches the statement against the day's books, looks up on any
// day what the day's books lack (a payment learned after midnight, an
// order of another school on a merchant schools share), and fills rec's
// figures.
func (s *Service) compare(ctx context.Context, rec *Reconciliation, ch payment.Channel, lines []payment.StatementLine, records []Record) ([]finding, error) {
	for _, r := range records {
		rec.Platform.add(r.Kind, r.Amount)
	}
	m := Match(lines, records)
	rec.Matched = m.Matched
	var out []finding
	for _, pr := range m.Mismatched {
		out = append(out, finding{kind: AmountMismatch, line: &lines[pr.Line], record: &records[pr.Record]})
	}
	others := make([]bool, len(lines)) // lines of another school's orders
	if len(m.LinesOnly) > 0 {
		more, err := s.lookAside(ctx, rec, ch, lines, m.LinesOnly, others)
		if err != nil {
			return nil, err
		}
		out = append(out, more...)
	}
	for i, l := range lines {
		if !others[i] {
			rec.Statement.add(l.Kind, l.Amount)
		}
	}
	for _, ri := range m.RecordsOnly {
		out = append(out, finding{kind: PlatformOnly, record: &records[ri]})
	}
	sort.SliceStable(out, func(i, j int) bool { return kindOrder(out[i].kind) < kindOrder(out[j].kind) })
	return out, nil
}

// lookAside classifies the statement lines the day's books lack, from
// what the books have of them on any day: matched after all (learned on
// another day), another school's (marked in others), or channel-only.
func (s *Service) lookAside(ctx context.Context, rec *Reconciliation, ch payment.Channel, lines []payment.StatementLine,
	only []int, others []bool) ([]finding, error) {
	var txns, refunds, orders []string
	for _, li := range only {
		l := lines[li]
		if l.Kind == payment.StatementRefund {
			refunds = append(refunds, l.RefundNo)
		} else {
			txns = append(txns, l.ChannelTxnID)
		}
		if l.OrderNo != "" {
			orders = append(orders, l.OrderNo)
		}
	}
	f, err := s.st.ReconcileFind(ctx, rec.Channel, txns, refunds, orders)
	if err != nil {
		return nil, err
	}
	byKey := map[string]*Record{}
	for i := range f.Records {
		k, _ := recordKeys(f.Records[i])
		byKey[k] = &f.Records[i]
	}
	mine := func(r *Record) bool {
		return r.SchoolID == rec.SchoolID || (r.SchoolID == 0 && r.Source == SourceSuspense && r.MerchantID == ch.MerchantID())
	}
	var out []finding
	for _, li := range only {
		l := &lines[li]
		k, _ := lineKeys(*l)
		r, onBooks := byKey[k]
		if onBooks && !mine(r) {
			others[li] = true
			continue
		}
		var ref *OrderRef
		if o, ok := f.Orders[l.OrderNo]; ok && l.OrderNo != "" {
			if o.SchoolID != rec.SchoolID {
				others[li] = true
				continue
			}
			ref = &o
		}
		switch {
		case onBooks && (r.Kind != payment.StatementRefund || r.State == string(payment.RefundStateSuccess)):
			// On the books of another day.
			if r.Amount == l.Amount {
				rec.Matched++
			} else {
				out = append(out, finding{kind: AmountMismatch, line: l, record: r})
			}
		case onBooks:
			// A refund the books have not seen finish.
			out = append(out, finding{kind: ChannelOnly, line: l, record: r, order: ref})
		default:
			out = append(out, finding{kind: ChannelOnly, line: l, order: ref})
		}
	}
	return out, nil
}

func kindOrder(k string) int {
	switch k {
	case ChannelOnly:
		return 0
	case AmountMismatch:
		return 1
	}
	return 2
}

// resolveAll asks the channel about each difference (up to MaxResolve)
// and records what was done in rec.
func (s *Service) resolveAll(ctx context.Context, ch payment.Channel, day string, found []finding, rec *Reconciliation) {
	for i, f := range found {
		var d Difference
		if i < s.cfg.MaxResolve {
			d = s.resolve(ctx, ch, day, f)
		} else {
			d = describe(f)
			d.Action, d.Note = ActionManual, fmt.Sprintf("差异超过 %d 笔，未逐笔向渠道查询：请先核对对账单是否为本商户、本日的", s.cfg.MaxResolve)
		}
		d.At = s.cfg.Now()
		rec.Differences = append(rec.Differences, d)
	}
	rec.DifferenceCount = len(rec.Differences)
	rec.Unresolved = 0
	for _, d := range rec.Differences {
		if !d.Resolved {
			rec.Unresolved++
		}
	}
	switch {
	case rec.DifferenceCount == 0:
		rec.Status = StatusMatched
	case rec.Unresolved == 0:
		rec.Status = StatusResolved
	default:
		rec.Status = StatusUnresolved
	}
}

// describe is a finding's difference before anything is done about it.
func describe(f finding) Difference {
	d := Difference{Kind: f.kind}
	if f.line != nil {
		d.TxnKind, d.OrderNo, d.ChannelAmount = f.line.Kind, f.line.OrderNo, f.line.Amount
		d.Ref = f.line.ChannelTxnID
		if f.line.Kind == payment.StatementRefund {
			d.Ref = f.line.RefundNo
		}
	}
	if f.record != nil && f.kind != ChannelOnly {
		d.TxnKind, d.PlatformAmount = f.record.Kind, f.record.Amount
		if d.OrderNo == "" {
			d.OrderNo = f.record.OrderNo
		}
		if d.Ref == "" {
			d.Ref = f.record.ChannelTxnID
			if f.record.Kind == payment.StatementRefund {
				d.Ref = f.record.RefundNo
			}
		}
	}
	return d
}

// save records a run and its audit row in one transaction.
func (s *Service) save(ctx context.Context, p admin.Principal, rec *Reconciliation) error {
	return s.st.ReconcileUpdate(ctx, func(tx Tx) error {
		rec.RunAt = tx.Now()
		if err := tx.SaveReconciliation(ctx, rec); err != nil {
			return err
		}
		type diffState struct {
			Kind     string `json:"kind"`
			OrderNo  string `json:"order_no"`
			Ref      string `json:"ref"`
			Channel  int64  `json:"channel_amount"`
			Platform int64  `json:"platform_amount"`
			Action   string `json:"action"`
			Resolved bool   `json:"resolved"`
		}
		after := struct {
			Day         string      `json:"day"`
			Channel     string      `json:"channel"`
			Run         int         `json:"run"`
			Status      string      `json:"status"`
			Matched     int         `json:"matched"`
			Differences []diffState `json:"differences"`
			Unresolved  int         `json:"unresolved"`
			Error       string      `json:"error,omitempty"`
		}{Day: rec.Day, Channel: rec.Channel, Run: rec.Runs, Status: rec.Status, Matched: rec.Matched, Unresolved: rec.Unresolved,
			Error: rec.Error, Differences: []diffState{}}
		for i, d := range rec.Differences {
			if i == 100 {
				break // the rest are in the reconciliation's own rows
			}
			after.Differences = append(after.Differences, diffState{d.Kind, d.OrderNo, d.Ref, int64(d.ChannelAmount), int64(d.PlatformAmount), d.Action, d.Resolved})
		}
		_, err := tx.Audit(ctx, audit.Record{Chain: rec.SchoolID, ActorID: p.Staff.ID, Actor: p.Staff.Username, Role: string(p.Staff.Role),
			Action: ActAudit, Target: "reconciliation:" + rec.Channel + ":" + rec.Day, SchoolID: rec.SchoolID, Client: p.Client,
			After: audit.State(after)})
		return err
	})
}

// actor names who ran a reconciliation, as the console shows it.
func actor(p admin.Principal) string {
	if p.Staff.DisplayName != "" {
		return p.Staff.DisplayName + "（" + p.Staff.Username + "）"
	}
	return p.Staff.Username
}

// Get reads a school's reconciliation of a channel and day with its
// latest run's differences.
func (s *Service) Get(ctx context.Context, p admin.Principal, schoolID int64, channel, day string) (Reconciliation, error) {
	sc, err := s.school(ctx, p, admin.PermViewReconcile, schoolID)
	if err != nil {
		return Reconciliation{}, err
	}
	if _, err := ParseDay(day); err != nil {
		return Reconciliation{}, apperr.New(apperr.Invalid, CodeInvalidDate, "日期须为 YYYY-MM-DD 格式，例如 2026-09-01")
	}
	r, err := s.st.ReconcileGet(ctx, schoolID, channel, day)
	if payment.IsNotFound(err) {
		return r, apperr.New(apperr.NotFound, CodeNotFound, "该日尚未对账")
	}
	r.SchoolCode = sc.Code
	return r, err
}

// History lists every run's differences of a reconciliation, newest run
// first (a later run that matched keeps what an earlier one found and did).
func (s *Service) History(ctx context.Context, p admin.Principal, r Reconciliation) ([]Difference, error) {
	if _, err := s.school(ctx, p, admin.PermViewReconcile, r.SchoolID); err != nil {
		return nil, err
	}
	return s.st.ReconcileDifferences(ctx, r.ID)
}

// List lists a school's reconciliations, the latest day first.
func (s *Service) List(ctx context.Context, p admin.Principal, schoolID int64, limit int) ([]Reconciliation, error) {
	sc, err := s.school(ctx, p, admin.PermViewReconcile, schoolID)
	if err != nil {
		return nil, err
	}
	if limit <= 0 || limit > 400 {
		limit = 60
	}
	out, err := s.st.ReconcileList(ctx, schoolID, limit)
	for i := range out {
		out[i].SchoolCode = sc.Code
	}
	return out, err
}

// Latest is each statement channel's most recent reconciliation of a
// school (none yet: absent), for the board.
func (s *Service) Latest(ctx context.Context, p admin.Principal, schoolID int64) ([]Reconciliation, error) {
	all, err := s.List(ctx, p, schoolID, 30)
	if err != nil {
		return nil, err
	}
	var out []Reconciliation
	for _, info := range s.Channels() {
		for _, r := range all {
			if r.Channel == info.Name {
				out = append(out, r)
				break
			}
		}
	}
	return out, nil
}

// Yesterday is the day before now's day in Shanghai: what the morning's
// run reconciles and what the console offers first.
func (s *Service) Yesterday() string { return DayOf(startOf(s.cfg.Now()).AddDate(0, 0, -1)) }

// Today is now's day in Shanghai.
func (s *Service) Today() string { return DayOf(s.cfg.Now()) }

// yuan formats fen for the notes people read: 5800.00.
func yuan(f money.Fen) string { return f.Yuan() }
