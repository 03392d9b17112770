package importer

import (
	"bytes"
	"fmt"
	"strconv"
	"testing"
	"time"
)

// billsCSV generates students×5 bill lines.
func billsCSV(students int) []byte {
	var b bytes.Buffer
	b.WriteString("学号,收费项目,子项目,应缴金额,必缴\n")
	items := []struct{ project, item, amount, mandatory string }{
		{"2026学年学费住宿费", "学费", "5800.00", "是"},
		{"2026学年学费住宿费", "住宿费", "1200.00", "是"},
		{"2026学年学费住宿费", "提档费", "50.00", "否"},
		{"2026学年代收费", "教材费", "480.00", "否"},
		{"2026学年代收费", "军训服装费", "150.00", "否"},
	}
	for i := range students {
		no := strconv.Itoa(2026000000 + i)
		for _, it := range items {
			fmt.Fprintf(&b, "%s,%s,%s,%s,%s\n", no, it.project, it.item, it.amount, it.mandatory)
		}
	}
	return b.Bytes()
}

func benchParse(b *testing.B, data []byte, f Format, want int) {
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	for b.Loop() {
		n := 0
		err := ParseBills(bytes.NewReader(data), f, func(BillRow) error { n++; return nil })
		if err != nil || n != want {
			b.Fatalf("rows %d err %v", n, err)
		}
	}
	b.ReportMetric(float64(want)*float64(b.N)/time.Since(start).Seconds(), "rows/s")
}

func BenchmarkParseBillsCSV(b *testing.B) {
	benchParse(b, billsCSV(20_000), CSV, 100_000)
}

func BenchmarkParseBillsXLSX(b *testing.B) {
	rows := [][]any{{"学号", "收费项目", "子项目", "应缴金额", "必缴"}}
	for i := range 4_000 {
		no := strconv.Itoa(2026000000 + i)
		rows = append(rows,
			[]any{no, "2026学年学费住宿费", "学费", 5800, "是"},
			[]any{no, "2026学年学费住宿费", "住宿费", 1200.5, "是"},
			[]any{no, "2026学年学费住宿费", "提档费", 50, "否"},
			[]any{no, "2026学年代收费", "教材费", "480.00", "否"},
			[]any{no, "2026学年代收费", "军训服装费", 150, "否"},
		)
	}
	benchParse(b, buildXLSX(b, rows, nil), XLSX, 20_000)
}
