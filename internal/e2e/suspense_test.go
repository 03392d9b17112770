package e2e

import (
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"campuspay/internal/channel/unionpay"
	"campuspay/internal/channel/unionpay/acp"
	"campuspay/internal/journal"
	"campuspay/internal/sandbox"
	"campuspay/internal/store"
)

// TestUnmatchedMoneyGoesToSuspense (I2): a success the gateway really
// signed, for an order the platform never made or of another amount than
// the order's, is kept in suspense with the raw notification and a journal
// entry, and answered 200 so the gateway stops retrying; its replay
// changes nothing; the journal still verifies.
func TestUnmatchedMoneyGoesToSuspense(t *testing.T) {
	for _, d := range []store.Dialect{store.SQLite, store.Postgres} {
		t.Run(string(d), func(t *testing.T) {
			srv := boot(t, d)
			keys, err := sandbox.LoadOrCreateKeys(keysDir)
			if err != nil {
				t.Fatal(err)
			}
			signed := func(orderNo string, amount int64, queryID string) string {
				now := time.Now().In(unionpay.Beijing)
				f := map[string]string{"version": "5.1.0", "encoding": "UTF-8", "signMethod": "01", "txnType": "01", "txnSubType": "01",
					"bizType": "000201", "accessType": "0", "channelType": "07", "merId": keys.UnionPay.MerID, "orderId": orderNo,
					"txnTime": now.Format(unionpay.TimeLayout), "txnAmt": strconv.FormatInt(amount, 10), "currencyCode": "156",
					"respCode": "00", "respMsg": "成功[0000000]", "queryId": queryID, "traceNo": "000001", "traceTime": now.Format("0102150405"),
					"settleDate": now.Format("0102"), "settleAmt": strconv.FormatInt(amount, 10), "settleCurrencyCode": "156",
					"accNo": "622202*********0009", "payCardType": "01"}
				f[acp.FieldSignPubKeyCert] = acp.CertPEM(keys.UnionPay.GatewayCert)
				acp.SignFields(f, keys.UnionPay.GatewayCert, keys.UnionPay.GatewayKey)
				v := url.Values{}
				for k, x := range f {
					v.Set(k, x)
				}
				return v.Encode()
			}
			form := map[string]string{"Content-Type": "application/x-www-form-urlencoded"}
			unknown := signed("CP20991231235959000000", 12345, fmt.Sprintf("%021d", time.Now().UnixNano()))
			for i := 0; i < 2; i++ { // the second is the gateway's retry
				if st, body := post(t, srv.URL+"/notify/unionpay", form, unknown); st != 200 || body != "ok" {
					t.Fatalf("unknown order, try %d: %d %s", i, st, body)
				}
			}
			c := login(t, srv.URL, "cqjz", "2026010041")
			ids, total := c.bills().mandatory()
			o := c.mustCreate(ids, "unionpay")
			short := signed(o.OrderNo, total-1, fmt.Sprintf("%021d", time.Now().UnixNano()+1))
			if st, body := post(t, srv.URL+"/notify/unionpay", form, short); st != 200 {
				t.Fatalf("short amount: %d %s", st, body)
			}
			type row struct {
				reason, raw string
				amount      int64
			}
			rows, err := srv.Store.DB().Query(`SELECT reason, raw, amount FROM suspense ORDER BY id`)
			if err != nil {
				t.Fatal(err)
			}
			var got []row
			for rows.Next() {
				var r row
				if err := rows.Scan(&r.reason, &r.raw, &r.amount); err != nil {
					t.Fatal(err)
				}
				got = append(got, r)
			}
			rows.Close()
			if len(got) != 2 || got[0].reason != "unknown_order" || got[0].amount != 12345 || got[1].reason != "amount_mismatch" ||
				got[1].amount != total-1 || !strings.Contains(got[0].raw, "signature=") {
				t.Fatalf("suspense %+v", got)
			}
			if c.order(o.OrderNo).Status != "paying" {
				t.Fatal("a short payment changed the order")
			}
			sc, _ := srv.Store.SchoolByCode(t.Context(), "cqjz")
			if b, _ := srv.Store.AccountBalance(t.Context(), journal.Suspense(0)); b != -12345 {
				t.Fatalf("platform suspense %d", b)
			}
			if b, _ := srv.Store.AccountBalance(t.Context(), journal.Suspense(sc.ID)); int64(b) != -(total - 1) {
				t.Fatalf("school suspense %d", b)
			}
			verifyJournal(t, srv.Store)
		})
	}
}
