package importer

import (
	"errors"
	"fmt"
	"runtime"
	"strings"
	"testing"
	"time"

	"campuspay/internal/billing"
)

func bigBills(n int) string {
	var b strings.Builder
	b.WriteString("学号,收费项目,子项目,应缴金额,必缴\n")
	for i := 0; i < n; i++ {
		fmt.Fprintf(&b, "S%06d,2026学年,学费,5800.00,是\n", i)
	}
	return b.String()
}

func TestParseBillsAhead(t *testing.T) {
	t.Run("every row arrives once and in file order", func(t *testing.T) {
		var got []billing.BillInput
		err := parseBillsAhead(strings.NewReader(bigBills(1000)), CSV, func(r billing.BillInput) error {
			got = append(got, r)
			return nil
		})
		if err != nil || len(got) != 1000 {
			t.Fatalf("%d rows, %v", len(got), err)
		}
		for i, r := range got {
			if r.Line != i+2 || r.StudentNo != fmt.Sprintf("S%06d", i) || r.Amount != 580000 || !r.Mandatory {
				t.Fatalf("row %d: %+v", i, r)
			}
		}
	})
	t.Run("a writer's failure stops the parser and is returned", func(t *testing.T) {
		before := runtime.NumGoroutine()
		boom := errors.New("disk full")
		n := 0
		err := parseBillsAhead(strings.NewReader(bigBills(5000)), CSV, func(billing.BillInput) error {
			if n++; n == 300 {
				return boom
			}
			return nil
		})
		if !errors.Is(err, boom) || n != 300 {
			t.Fatalf("err %v after %d rows", err, n)
		}
		deadline := time.Now().Add(2 * time.Second)
		for runtime.NumGoroutine() > before && time.Now().Before(deadline) {
			time.Sleep(10 * time.Millisecond)
		}
		if runtime.NumGoroutine() > before {
			t.Fatal("the parser goroutine is still running")
		}
	})
	t.Run("bad lines are all reported", func(t *testing.T) {
		in := bigBills(600)
		in = strings.Replace(in, "S000010,2026学年,学费,5800.00", "S000010,2026学年,学费,58OO", 1)
		in = strings.Replace(in, "S000500,2026学年,学费,5800.00", "S000500,2026学年,学费,-1", 1)
		err := parseBillsAhead(strings.NewReader(in), CSV, func(billing.BillInput) error { return nil })
		var errs *Errors
		if !errors.As(err, &errs) || len(errs.Errs) != 2 || errs.Errs[0].Line != 12 || errs.Errs[1].Line != 502 {
			t.Fatalf("err %v", err)
		}
	})
}
