package e2e

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"campuspay/internal/billing"
	"campuspay/internal/channel"
	"campuspay/internal/channel/unionpay"
	"campuspay/internal/channel/unionpay/acp"
	"campuspay/internal/money"
	"campuspay/internal/payment"
	"campuspay/internal/sandbox"
	"campuspay/internal/store"
	"campuspay/internal/store/storetest"
)

// BenchmarkNotification{SQLite,Postgres}: one op is verifying and applying
// one valid, freshly signed UnionPay success notification for an open order
// (certificate chain + RSA verify ≈ 50 µs, then the ApplySuccess
// transaction). Compare with BenchmarkRawTxn on the same database: the
// target is notifications/s ≥ 0.5 × raw single-row transactions/s.
func BenchmarkNotificationSQLite(b *testing.B)   { benchNotification(b, store.SQLite, false) }
func BenchmarkNotificationPostgres(b *testing.B) { benchNotification(b, store.Postgres, false) }

// The Parallel variants have 16 notifications (and, for the baseline, 16
// raw transactions) in flight at once, as at semester start.
func BenchmarkNotificationParallelSQLite(b *testing.B)   { benchNotification(b, store.SQLite, true) }
func BenchmarkNotificationParallelPostgres(b *testing.B) { benchNotification(b, store.Postgres, true) }

// BenchmarkRawTxn{SQLite,Postgres}: one op is BEGIN; one-row INSERT; COMMIT
// through the store's own connection pool and settings.
func BenchmarkRawTxnSQLite(b *testing.B)   { benchRawTxn(b, store.SQLite, false) }
func BenchmarkRawTxnPostgres(b *testing.B) { benchRawTxn(b, store.Postgres, false) }

func BenchmarkRawTxnParallelSQLite(b *testing.B)   { benchRawTxn(b, store.SQLite, true) }
func BenchmarkRawTxnParallelPostgres(b *testing.B) { benchRawTxn(b, store.Postgres, true) }

// inFlight is how many notifications or transactions the Parallel
// benchmarks keep going at once (b.SetParallelism × GOMAXPROCS on 2 cores).
const inFlight = 8

func openBenchStore(b *testing.B, d store.Dialect) *store.Store {
	b.Helper()
	ctx := context.Background()
	st, err := store.Open(ctx, dsnFor(b, d))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { st.Close() })
	if err := st.Migrate(ctx); err != nil {
		b.Fatal(err)
	}
	return st
}

func benchRawTxn(b *testing.B, d store.Dialect, parallel bool) {
	st := openBenchStore(b, d)
	db := st.DB()
	ddl := `CREATE TABLE bench_raw (id INTEGER PRIMARY KEY AUTOINCREMENT, v INTEGER NOT NULL)`
	if d == store.Postgres {
		ddl = `CREATE TABLE bench_raw (id BIGSERIAL PRIMARY KEY, v BIGINT NOT NULL)`
	}
	if _, err := db.Exec(ddl); err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	var cpu0, pg0 time.Duration
	one := func(i int) {
		tx, err := db.BeginTx(ctx, nil)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO bench_raw (v) VALUES ($1)`, i); err != nil {
			b.Fatal(err)
		}
		if err := tx.Commit(); err != nil {
			b.Fatal(err)
		}
	}
	cpu0, pg0 = cpuNow()
	b.ResetTimer()
	if parallel {
		b.SetParallelism(inFlight)
		b.RunParallel(func(pb *testing.PB) {
			for i := 0; pb.Next(); i++ {
				one(i)
			}
		})
	} else {
		for i := 0; i < b.N; i++ {
			one(i)
		}
	}
	b.StopTimer()
	cpu, pg := cpuNow()
	b.ReportMetric(float64((cpu-cpu0).Microseconds())/float64(b.N), "cpu-µs/op")
	if d == store.Postgres {
		b.ReportMetric(float64((pg-pg0).Microseconds())/float64(b.N), "pg-cpu-µs/op")
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "txn/s")
}

type benchNote struct {
	header map[string][]string
	body   []byte
}

func benchNotification(b *testing.B, d store.Dialect, parallel bool) {
	ctx := context.Background()
	st := openBenchStore(b, d)
	keys, err := sandbox.LoadOrCreateKeys(keysDir)
	if err != nil {
		b.Fatal(err)
	}
	// The adapter never calls out while verifying a notification.
	up, _, err := keys.Adapters(ctx, "http://127.0.0.1:9", &http.Client{Timeout: time.Second})
	if err != nil {
		b.Fatal(err)
	}
	reg := channel.NewRegistry()
	reg.SetDefault(up)
	svc := payment.NewService(st, reg, payment.Config{PublicURL: "http://127.0.0.1:9", FirstQuery: time.Hour, QueryInterval: time.Hour, QueryMaxInterval: time.Hour,
		ApplyLanes: st.WriteLanes()}, nil, nil) // as the server sets it
	defer svc.Close()
	school, err := st.CreateSchool(ctx, billing.School{Code: "bench", Name: "基准学校", RegionCode: "500000", RegionName: "重庆市", Policy: billing.DefaultPolicy()})
	if err != nil {
		b.Fatal(err)
	}
	var made, seq int
	// prepare imports n students owing one mandatory line each, opens an
	// order for each, and signs its success notification as the gateway.
	prepare := func(n int) []benchNote {
		var sts []billing.StudentInput
		var bills []billing.BillInput
		for i := range n {
			no := fmt.Sprintf("B%07d", made+i)
			sts = append(sts, billing.StudentInput{Line: i + 2, StudentNo: no, Name: "学生" + no})
			bills = append(bills, billing.BillInput{Line: i + 2, StudentNo: no, Project: "学费住宿费", Item: "学费", Amount: 580000, Mandatory: true})
		}
		if _, err := st.ImportStudents(ctx, school.ID, storetest.Rows(sts)); err != nil {
			b.Fatal(err)
		}
		if _, err := st.ImportBills(ctx, school.ID, fmt.Sprintf("bench-%d", made), storetest.Rows(bills), func(line int, col, reason string) {
			b.Fatalf("bill line %d: %s", line, reason)
		}); err != nil {
			b.Fatal(err)
		}
		out := make([]benchNote, 0, n)
		for _, in := range sts {
			stu, err := st.StudentByNo(ctx, school.ID, in.StudentNo)
			if err != nil {
				b.Fatal(err)
			}
			lines, err := st.Lines(ctx, stu.ID)
			if err != nil || len(lines) != 1 {
				b.Fatalf("lines: %v %v", lines, err)
			}
			co, err := svc.Create(ctx, payment.CreateRequest{School: school, Student: stu, LineIDs: []int64{lines[0].ID}, Channel: unionpay.Name})
			if err != nil {
				b.Fatal(err)
			}
			o := co.Order
			seq++
			now := time.Now().In(unionpay.Beijing)
			f := map[string]string{"version": "5.1.0", "encoding": "UTF-8", "signMethod": "01", "txnType": "01", "txnSubType": "01",
				"bizType": "000201", "accessType": "0", "channelType": "08", "merId": keys.UnionPay.MerID, "orderId": o.OrderNo,
				"txnTime": o.CreatedAt.In(unionpay.Beijing).Format(unionpay.TimeLayout), "txnAmt": strconv.FormatInt(int64(o.Amount), 10),
				"currencyCode": "156", "respCode": "00", "respMsg": "成功[0000000]", "queryId": fmt.Sprintf("%021d", seq),
				"traceNo": fmt.Sprintf("%06d", seq%1000000), "traceTime": now.Format("0102150405"), "settleDate": now.Format("0102"),
				"settleAmt": strconv.FormatInt(int64(o.Amount), 10), "settleCurrencyCode": "156", "accNo": "622202*********0009", "payCardType": "01"}
			f[acp.FieldSignPubKeyCert] = strings.ReplaceAll(acp.CertPEM(keys.UnionPay.GatewayCert), "\n", "\r\n")
			acp.SignFields(f, keys.UnionPay.GatewayCert, keys.UnionPay.GatewayKey)
			v := url.Values{}
			for k, x := range f {
				v.Set(k, x)
			}
			out = append(out, benchNote{map[string][]string{"Content-Type": {"application/x-www-form-urlencoded; charset=UTF-8"}}, []byte(v.Encode())})
		}
		made += n
		return out
	}
	handle := func(note benchNote) {
		n, err := svc.HandleNotification(ctx, unionpay.Name, note.header, note.body, "notify")
		if err != nil || n.Outcome == nil || n.Outcome.Disposition != payment.Apply || n.Outcome.Replay {
			b.Fatalf("notification: %v %+v", err, n.Outcome)
		}
	}
	stats := st.Stats()
	var stmts0, txns0 int64
	var cpu0, pg0 time.Duration
	mark := func() {
		stmts0, txns0 = stats.Statements.Load(), stats.Transactions.Load()
		cpu0, pg0 = cpuNow()
	}
	// Setup done while the clock is stopped is not the notifications' cost.
	setup := prepare
	prepare = func(n int) []benchNote {
		s0, t0 := stats.Statements.Load(), stats.Transactions.Load()
		c0, p0 := cpuNow()
		out := setup(n)
		c1, p1 := cpuNow()
		stmts0 += stats.Statements.Load() - s0
		txns0 += stats.Transactions.Load() - t0
		cpu0 += c1 - c0
		pg0 += p1 - p0
		return out
	}
	report := func() {
		cpu, pg := cpuNow()
		b.ReportMetric(float64((cpu-cpu0).Microseconds())/float64(b.N), "cpu-µs/op")
		if d == store.Postgres {
			b.ReportMetric(float64((pg-pg0).Microseconds())/float64(b.N), "pg-cpu-µs/op")
		}
		b.ReportMetric(float64(stats.Statements.Load()-stmts0)/float64(b.N), "stmts/op")
		b.ReportMetric(float64(stats.Transactions.Load()-txns0)/float64(b.N), "txns/op")
	}
	if parallel {
		var all []benchNote
		for len(all) < b.N {
			all = append(all, prepare(min(b.N-len(all), 1000))...)
		}
		var next atomic.Int64
		b.SetParallelism(inFlight)
		mark()
		b.ResetTimer()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				handle(all[next.Add(1)-1])
			}
		})
	} else {
		benchSerial(b, prepare, handle, mark)
	}
	b.StopTimer()
	report()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "notif/s")
	if rep, err := st.VerifyJournal(ctx); err != nil || !rep.OK() {
		b.Fatalf("journal after benchmark: %v %+v", err, rep)
	}
	var paid int64
	st.DB().QueryRowContext(ctx, `SELECT COUNT(*) FROM orders WHERE status = 'paid'`).Scan(&paid)
	if paid != int64(b.N) && b.N > 0 {
		b.Fatalf("%d orders paid after %d notifications", paid, b.N)
	}
}

// benchSerial handles one notification at a time, preparing more (off the
// clock) as they run out.
func benchSerial(b *testing.B, prepare func(int) []benchNote, handle func(benchNote), mark func()) {
	batch := min(b.N, 1000)
	notes := prepare(min(batch, b.N))
	mark()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if len(notes) == 0 {
			b.StopTimer()
			notes = prepare(min(b.N-i, 1000))
			b.StartTimer()
		}
		handle(notes[0])
		notes = notes[1:]
	}
}

var _ = money.Fen(0)

// cpuNow is this process's CPU time and that of every local PostgreSQL
// process, so a benchmark can say where its time went.
func cpuNow() (self, postgres time.Duration) {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	self = time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	dirs, _ := os.ReadDir("/proc")
	for _, d := range dirs {
		b, err := os.ReadFile("/proc/" + d.Name() + "/stat")
		if err != nil {
			continue
		}
		s := string(b)
		open, close := strings.IndexByte(s, '('), strings.LastIndexByte(s, ')')
		if open < 0 || close < open || s[open+1:close] != "postgres" {
			continue
		}
		f := strings.Fields(s[close+2:])
		if len(f) > 12 {
			u, _ := strconv.ParseInt(f[11], 10, 64)
			k, _ := strconv.ParseInt(f[12], 10, 64)
			postgres += time.Duration(u+k) * 10 * time.Millisecond // USER_HZ = 100
		}
	}
	return self, postgres
}
