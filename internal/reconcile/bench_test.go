package reconcile_test

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"campuspay/internal/admin"
	"campuspay/internal/app/apptest"
	"campuspay/internal/channel"
	"campuspay/internal/channel/unionpay"
	"campuspay/internal/channel/unionpay/acp"
	"campuspay/internal/payment"
	"campuspay/internal/reconcile"
	"campuspay/internal/sandbox"
	"campuspay/internal/store"
	"campuspay/internal/store/storetest"
)

// benchTxns is the size: a day of 100,000 transactions.
const benchTxns = 100_000

// benchDay is the day the benchmark reconciles.
var benchDay = time.Date(2026, 3, 2, 0, 0, 0, 0, reconcile.Shanghai)

// benchSQL fills a school's day with benchTxns paid orders and their
// payments, one every 0.8 s from midnight, in one statement each.
var benchSQL = map[store.Dialect][2]string{
	store.SQLite: {
		`WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < $4)
		INSERT INTO orders (order_no, school_id, student_id, channel, amount, status, created_at, expires_at, paid_at, channel_txn_id, card_type)
		SELECT printf('CPB%023d', i), $1, $2, 'unionpay', 10000 + i % 5000, 'paid', $3 + i * 800, $3 + i * 800 + 600000,
			$3 + i * 800 + 500, printf('%021d', i), 'debit' FROM n`,
		`INSERT INTO payments_received (order_id, channel, channel_txn_id, amount, card_type, disposition, source, received_at)
		SELECT id, 'unionpay', channel_txn_id, amount, 'debit', 'applied', 'notify', paid_at + 200 FROM orders WHERE order_no LIKE 'CPB%'`,
	},
	store.Postgres: {
		`INSERT INTO orders (order_no, school_id, student_id, channel, amount, status, created_at, expires_at, paid_at, channel_txn_id, card_type)
		SELECT 'CPB' || lpad(i::text, 23, '0'), $1, $2, 'unionpay', 10000 + i % 5000, 'paid', $3 + i * 800, $3 + i * 800 + 600000,
			$3 + i * 800 + 500, lpad(i::text, 21, '0'), 'debit' FROM generate_series(1, $4::bigint) AS i`,
		`INSERT INTO payments_received (order_id, channel, channel_txn_id, amount, card_type, disposition, source, received_at)
		SELECT id, 'unionpay', channel_txn_id, amount, 'debit', 'applied', 'notify', paid_at + 200 FROM orders WHERE order_no LIKE 'CPB%'`,
	},
}

// settlementFile is the day's UnionPay settlement file of the same
// transactions, in the layout the sandbox serves.
func settlementFile(b *testing.B, merID string) string {
	b.Helper()
	var sb strings.Builder
	start := benchDay.UnixMilli()
	for i := 1; i <= benchTxns; i++ {
		paid := time.UnixMilli(start + int64(i)*800 + 500).In(reconcile.Shanghai)
		amt := int64(10000 + i%5000)
		line, err := acp.FormatSettleLine(map[string]string{
			"tradeNo": acp.TradePayment, "acqInsCode": "00010000", "sendInsCode": "00010000", "traceNo": strconv.Itoa(i % 1000000),
			"txnTime": paid.Format("0102150405"), "payCardNo": "622202*********0009", "txnAmt": strconv.FormatInt(amt, 10),
			"merCatCode": "8220", "termType": "07", "queryId": fmt.Sprintf("%021d", i), "orderId": fmt.Sprintf("CPB%023d", i),
			"payCardType": "01", "merCharge": "D000000000000", "settleAmt": fmt.Sprintf("C%012d", amt), "payType": "0001",
			"txnType": "01", "txnSubType": "01", "bizType": "000201", "accType": "01", "merId": merID,
		})
		if err != nil {
			b.Fatal(err)
		}
		sb.WriteString(line)
		sb.WriteString("\r\n")
	}
	content, err := acp.EncodeFileContent("INN260302"+"88ZM_"+merID, []byte(sb.String()))
	if err != nil {
		b.Fatal(err)
	}
	return content
}

// gateway answers fileTransRequest.do with the file, signed with the
// sandbox gateway's key, as UnionPay does.
func gateway(b *testing.B, keys *sandbox.Keys, content string) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := r.ParseForm(); err != nil || r.URL.Path != unionpay.PathFileTrans {
			http.Error(w, "bad request", 400)
			return
		}
		f := map[string]string{"version": "5.1.0", "encoding": "UTF-8", "signMethod": "01", "txnType": "76", "txnSubType": "01",
			"bizType": "000000", "accessType": "0", "merId": r.PostForm.Get("merId"), "settleDate": r.PostForm.Get("settleDate"),
			"fileType": "00", "respCode": "00", "respMsg": "成功[0000000]", "fileName": "bench.zip", "fileContent": content}
		f[acp.FieldSignPubKeyCert] = strings.ReplaceAll(acp.CertPEM(keys.UnionPay.GatewayCert), "\n", "\r\n")
		io.WriteString(w, acp.EncodeKV(acp.SignFields(f, keys.UnionPay.GatewayCert, keys.UnionPay.GatewayKey)))
	}))
	b.Cleanup(srv.Close)
	return srv
}

// BenchmarkReconcileDay reconciles a day of 100,000 UnionPay payments on
// each engine, end to end: the settlement file fetched over HTTP from a
// gateway that signs it like the sandbox (about 8 MB of base64), its
// signature verified, unzipped and parsed; the day's books read; every
// line matched; the run recorded and audited. Reported beside it, in the
// same run: "scan-ms", a plain scan of the same 100,000 payment rows
// (the day's payments joined to their orders, every row read), the
// baseline; "statement-ms", the statement's fetch and parse alone; and
// the ratio of reconciliation to scan. The bound is 10 s.
func BenchmarkReconcileDay(b *testing.B) {
	keys, err := sandbox.LoadOrCreateKeys(apptest.KeysDir())
	if err != nil {
		b.Fatal(err)
	}
	content := settlementFile(b, keys.UnionPay.MerID)
	for _, d := range storetest.Dialects {
		b.Run(string(d), func(b *testing.B) {
			s := storetest.Open(b, d)
			school, students := storetest.Seed(b, s)
			start := benchDay.UnixMilli()
			if _, err := s.DB().ExecContext(ctx, benchSQL[d][0], school.ID, students[0].ID, start, benchTxns); err != nil {
				b.Fatalf("fill orders: %v", err)
			}
			if _, err := s.DB().ExecContext(ctx, benchSQL[d][1]); err != nil {
				b.Fatalf("fill payments: %v", err)
			}
			if d == store.Postgres {
				s.DB().ExecContext(ctx, `ANALYZE`)
			}
			gw := gateway(b, keys, content)
			adapter, err := unionpay.New(keys.UnionPay.AdapterConfig(gw.URL, &http.Client{Timeout: time.Minute}))
			if err != nil {
				b.Fatal(err)
			}
			reg := channel.NewRegistry()
			reg.SetDefault(adapter)
			pay := payment.NewService(s, reg, payment.DefaultConfig(gw.URL), nil, nil)
			b.Cleanup(pay.Close)
			svc := reconcile.New(s, reg, pay, reconcile.Config{})
			day := reconcile.DayOf(benchDay)
			scan := func() (n int) {
				rows, err := s.DB().QueryContext(ctx, `SELECT o.order_no, p.channel_txn_id, p.amount FROM payments_received p
					JOIN orders o ON o.id = p.order_id WHERE p.received_at >= $1 AND p.received_at < $2`, start, start+86_400_000)
				if err != nil {
					b.Fatal(err)
				}
				defer rows.Close()
				var no, txn string
				var amount int64
				for rows.Next() {
					if err := rows.Scan(&no, &txn, &amount); err != nil {
						b.Fatal(err)
					}
					n++
				}
				return n
			}
			var scanT, stmtT, recT time.Duration
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				t0 := time.Now()
				if n := scan(); n != benchTxns {
					b.Fatalf("scan read %d rows", n)
				}
				t1 := time.Now()
				lines, err := adapter.Statement(ctx, benchDay)
				if err != nil || len(lines) != benchTxns {
					b.Fatalf("statement: %d lines, %v", len(lines), err)
				}
				t2 := time.Now()
				r, err := svc.Run(ctx, admin.System("bench"), school.ID, "unionpay", day)
				if err != nil || !r.OK() || r.Matched != benchTxns {
					b.Fatalf("reconcile: matched %d, %d differences, %v", r.Matched, r.DifferenceCount, err)
				}
				t3 := time.Now()
				scanT, stmtT, recT = scanT+t1.Sub(t0), stmtT+t2.Sub(t1), recT+t3.Sub(t2)
			}
			n := time.Duration(b.N)
			b.ReportMetric(float64((recT / n).Milliseconds()), "reconcile-ms")
			b.ReportMetric(float64((scanT / n).Milliseconds()), "scan-ms")
			b.ReportMetric(float64((stmtT / n).Milliseconds()), "statement-ms")
			b.ReportMetric(float64(recT)/float64(scanT), "reconcile/scan")
			if recT/n > 10*time.Second {
				b.Errorf("reconciling a day of %d took %v, over 10 s", benchTxns, recT/n)
			}
		})
	}
}
