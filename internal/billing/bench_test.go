package billing_test

import (
	"fmt"
	"testing"
	"time"

	"campuspay/internal/billing"
	"campuspay/internal/money"
)

// fiftyLines is a heavy student: 5 projects × 10 items; project 1 has 4
// mandatory lines, a few lines elsewhere are paid, and a few are held
// (some holds expired). valid is 10 lines of project 1 that Decide accepts
// under the default policy.
func fiftyLines() (lines []billing.Line, holds []billing.Hold, valid []int64) {
	for p := int64(1); p <= 5; p++ {
		for i := int64(0); i < 10; i++ {
			id := p*100 + i
			l := billing.Line{ID: id, StudentID: 1, ProjectID: p, ProjectName: fmt.Sprintf("项目%d", p),
				ItemID: id, ItemName: fmt.Sprintf("子项目%d", id), Amount: money.Fen(10000 * (i + 1)), Mandatory: p == 1 && i < 4}
			if p > 1 && i%4 == 3 {
				l.Paid = l.Amount
			}
			lines = append(lines, l)
			if p == 1 {
				valid = append(valid, id)
			}
		}
	}
	holds = []billing.Hold{
		{LineID: 201, OrderNo: "CP1", Until: now.Add(5 * time.Minute)},
		{LineID: 305, OrderNo: "CP1", Until: now.Add(5 * time.Minute)},
		{LineID: 402, OrderNo: "CP2", Until: now.Add(-5 * time.Minute)},
		{LineID: 509, OrderNo: "CP3", Until: now.Add(-time.Minute)},
	}
	return lines, holds, valid
}

func BenchmarkDecide50Lines(b *testing.B) {
	lines, holds, sel := fiftyLines()
	p := billing.DefaultPolicy()
	if d, err := billing.Decide(lines, holds, p, now, sel); err != nil || len(d.Lines) != 10 {
		b.Fatalf("the benchmark's selection is refused: %v", err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := billing.Decide(lines, holds, p, now, sel); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkBuildBoard50Lines(b *testing.B) {
	lines, holds, _ := fiftyLines()
	p := billing.DefaultPolicy()
	if bd := billing.BuildBoard(lines, holds, p, now); len(bd.Projects) != 5 || len(bd.DefaultSelect) != 4 {
		b.Fatalf("unexpected board: %d projects, default %v", len(bd.Projects), bd.DefaultSelect)
	}
	b.ReportAllocs()
	for b.Loop() {
		billing.BuildBoard(lines, holds, p, now)
	}
}

func BenchmarkFitUnderLimit50Lines(b *testing.B) {
	lines, holds, _ := fiftyLines()
	p := billing.DefaultPolicy()
	if fit := billing.FitUnderLimit(lines, holds, p, now, 500000); len(fit) == 0 {
		b.Fatal("the benchmark's bill has nothing to propose")
	} else if _, err := billing.Decide(lines, holds, p, now, lineIDs(fit)); err != nil {
		b.Fatalf("the benchmark's proposal %v is refused: %v", lineIDs(fit), err)
	}
	b.ReportAllocs()
	for b.Loop() {
		billing.FitUnderLimit(lines, holds, p, now, 500000)
	}
}
