package reconcile

import (
	"fmt"
	"math/rand/v2"
	"reflect"
	"testing"

	"campuspay/internal/money"
	"campuspay/internal/payment"
)

func pay(order, txn string, amount money.Fen) payment.StatementLine {
	return payment.StatementLine{Kind: payment.StatementPayment, OrderNo: order, ChannelTxnID: txn, Amount: amount}
}

func refundLine(order, refundNo, txn string, amount money.Fen) payment.StatementLine {
	return payment.StatementLine{Kind: payment.StatementRefund, OrderNo: order, RefundNo: refundNo, ChannelTxnID: txn, Amount: amount}
}

func rec(l payment.StatementLine) Record {
	return Record{Kind: l.Kind, OrderNo: l.OrderNo, RefundNo: l.RefundNo, ChannelTxnID: l.ChannelTxnID, Amount: l.Amount}
}

func TestMatch(t *testing.T) {
	a, b, c := pay("CP1", "T1", 100), pay("CP2", "T2", 200), pay("CP3", "T3", 300)
	rf := refundLine("CP1", "RF1", "RT1", 50)
	tests := []struct {
		name    string
		lines   []payment.StatementLine
		records []Record
		want    Matching
	}{
		{"an empty day matches", nil, nil, Matching{}},
		{"the same transactions match whatever their order", []payment.StatementLine{a, b, c, rf},
			[]Record{rec(c), rec(rf), rec(a), rec(b)}, Matching{Matched: 4}},
		{"a line the books lack is the statement's only", []payment.StatementLine{a, b}, []Record{rec(a)},
			Matching{Matched: 1, LinesOnly: []int{1}}},
		{"a record the statement lacks is the books' only", []payment.StatementLine{b}, []Record{rec(a), rec(b)},
			Matching{Matched: 1, RecordsOnly: []int{0}}},
		{"another amount is a mismatch, not two differences", []payment.StatementLine{a, pay("CP2", "T2", 201)},
			[]Record{rec(a), rec(b)}, Matching{Matched: 1, Mismatched: []Pair{{Line: 1, Record: 1}}}},
		{"a line listed twice leaves the second unmatched", []payment.StatementLine{a, a}, []Record{rec(a)},
			Matching{Matched: 1, LinesOnly: []int{1}}},
		{"without the channel's id a line matches by its order", []payment.StatementLine{pay("CP2", "", 200)},
			[]Record{rec(b)}, Matching{Matched: 1}},
		{"a record without the channel's id matches a line by its order", []payment.StatementLine{b},
			[]Record{rec(pay("CP2", "", 200))}, Matching{Matched: 1}},
		{"another transaction id of the same order is another transaction", []payment.StatementLine{pay("CP2", "T9", 200)},
			[]Record{rec(b)}, Matching{LinesOnly: []int{0}, RecordsOnly: []int{0}}},
		{"an order number two records share pairs neither", []payment.StatementLine{pay("CP9", "", 10)},
			[]Record{rec(pay("CP9", "X1", 10)), rec(pay("CP9", "X2", 10))}, Matching{LinesOnly: []int{0}, RecordsOnly: []int{0, 1}}},
		{"a refund matches by its refund number, not its payment", []payment.StatementLine{refundLine("", "RF1", "other", 50)},
			[]Record{rec(a), rec(rf)}, Matching{Matched: 1, RecordsOnly: []int{0}}},
		{"a refund is never a payment of the same order", []payment.StatementLine{refundLine("CP1", "RF9", "RT9", 100)},
			[]Record{rec(a)}, Matching{LinesOnly: []int{0}, RecordsOnly: []int{0}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Match(tt.lines, tt.records); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("Match = %+v, want %+v", got, tt.want)
			}
		})
	}
}

// TestMatchAccountsForEveryLineAndRecord: whatever the inputs, every line
// is matched, mismatched or the statement's only, every record likewise,
// each exactly once.
func TestMatchAccountsForEveryLineAndRecord(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for round := 0; round < 200; round++ {
		var lines []payment.StatementLine
		var records []Record
		for i := 0; i < rng.IntN(30); i++ {
			l := pay(fmt.Sprintf("CP%d", rng.IntN(20)), fmt.Sprintf("T%d", rng.IntN(25)), money.Fen(1+rng.IntN(3)))
			if rng.IntN(5) == 0 {
				l = refundLine(l.OrderNo, fmt.Sprintf("RF%d", rng.IntN(10)), l.ChannelTxnID, l.Amount)
			}
			switch rng.IntN(3) {
			case 0:
				lines = append(lines, l)
			case 1:
				records = append(records, rec(l))
			default:
				lines = append(lines, l)
				r := rec(l)
				if rng.IntN(4) == 0 {
					r.Amount++
				}
				records = append(records, r)
			}
		}
		m := Match(lines, records)
		seenL, seenR := make([]int, len(lines)), make([]int, len(records))
		for _, p := range m.Mismatched {
			seenL[p.Line]++
			seenR[p.Record]++
			if lines[p.Line].Amount == records[p.Record].Amount {
				t.Fatalf("round %d: a mismatch of equal amounts", round)
			}
		}
		for _, i := range m.LinesOnly {
			seenL[i]++
		}
		for _, i := range m.RecordsOnly {
			seenR[i]++
		}
		unmatchedL, unmatchedR := 0, 0
		for _, n := range seenL {
			if n > 1 {
				t.Fatalf("round %d: a line counted %d times", round, n)
			}
			unmatchedL += 1 - n
		}
		for _, n := range seenR {
			if n > 1 {
				t.Fatalf("round %d: a record counted %d times", round, n)
			}
			unmatchedR += 1 - n
		}
		if unmatchedL != m.Matched || unmatchedR != m.Matched {
			t.Fatalf("round %d: matched %d, but %d lines and %d records are in no list", round, m.Matched, unmatchedL, unmatchedR)
		}
	}
}
