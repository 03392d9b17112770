package importer

import (
	"cmp"
	"context"
	"errors"
	"io"
	"slices"

	"campuspay/internal/billing"
)

// Target is where validated rows go: the store, inside one transaction.
type Target interface {
	ImportStudents(ctx context.Context, schoolID int64, rows func(yield func(billing.StudentInput) error) error) (billing.ImportStats, error)
	ImportBills(ctx context.Context, schoolID int64, ref string, rows func(yield func(billing.BillInput) error) error, problem billing.Problem) (billing.ImportStats, error)
}

// Kind of import file.
const (
	Students = "students"
	Bills    = "bills"
)

// Apply parses a file and applies it all or nothing: if any line is bad,
// in form (parser) or in meaning (unknown student, a paid line changed),
// the returned *Errors lists every such line in line order, found in one
// pass (valid rows reach t even after a bad one, and the transaction is
// rolled back), and nothing was applied.
func Apply(ctx context.Context, t Target, schoolID int64, kind, filename string, r io.Reader) (billing.ImportStats, error) {
	f, err := FormatOf(filename)
	if err != nil {
		return billing.ImportStats{}, err
	}
	probs := &Errors{} // what t found, in row order
	var perr error     // what the parser returned
	var stats billing.ImportStats
	switch kind {
	case Students:
		stats, err = t.ImportStudents(ctx, schoolID, func(yield func(billing.StudentInput) error) error {
			perr = ParseStudents(r, f, func(row StudentRow) error {
				return yield(billing.StudentInput{Line: row.Line, StudentNo: row.StudentNo, Name: row.Name, IDCard: row.IDCard,
					Grade: row.Grade, Major: row.Major, Class: row.Class, Phone: row.Phone})
			})
			return perr // an *Errors rolls the transaction back
		})
	case Bills:
		stats, err = t.ImportBills(ctx, schoolID, "", func(yield func(billing.BillInput) error) error {
			perr = parseBillsAhead(r, f, yield)
			return perr
		}, probs.Add)
	default:
		return stats, errors.New("import: kind must be students or bills")
	}
	var pe *Errors
	if !errors.As(perr, &pe) {
		pe = nil
	}
	if err != nil && (pe == nil || !errors.Is(err, pe)) {
		return stats, err // the parser's reader or the database failed
	}
	if all := mergeErrors(pe, probs); !all.Empty() {
		return stats, all
	}
	return stats, nil
}

// mergeErrors joins the parser's errors and the target's problems in line
// order (the parser's first on a tie), keeping MaxStoredErrors and counting
// the rest. Each list holds its own first errors by line, so the first
// MaxStoredErrors of the two together are among them.
func mergeErrors(a, b *Errors) *Errors {
	out := &Errors{}
	sorted := func(e *Errors) []LineError {
		if e == nil {
			return nil
		}
		out.Truncated += e.Truncated
		s := slices.Clone(e.Errs)
		slices.SortStableFunc(s, func(x, y LineError) int { return cmp.Compare(x.Line, y.Line) })
		return s
	}
	as, bs := sorted(a), sorted(b)
	for len(as) > 0 || len(bs) > 0 {
		var e LineError
		if len(bs) == 0 || len(as) > 0 && as[0].Line <= bs[0].Line {
			e, as = as[0], as[1:]
		} else {
			e, bs = bs[0], bs[1:]
		}
		out.Add(e.Line, e.Column, e.Reason)
	}
	return out
}

// errStopped ends the parser when the writer has failed.
var errStopped = errors.New("importer: stopped")

// parseBillsAhead parses on its own goroutine, handing rows to yield in
// batches, so that reading and checking the file overlaps writing it to
// the database (two cores, two halves of the work). It returns what
// ParseBills returns, or yield's first error.
func parseBillsAhead(r io.Reader, f Format, yield func(billing.BillInput) error) error {
	const batchSize = 256
	batches := make(chan []billing.BillInput, 8)
	stop := make(chan struct{})
	var perr error
	go func() {
		defer close(batches)
		batch := make([]billing.BillInput, 0, batchSize)
		send := func() error {
			select {
			case batches <- batch:
				batch = make([]billing.BillInput, 0, batchSize)
				return nil
			case <-stop:
				return errStopped
			}
		}
		perr = ParseBills(r, f, func(row BillRow) error {
			batch = append(batch, billing.BillInput{Line: row.Line, StudentNo: row.StudentNo, Project: row.Project,
				Item: row.Item, Amount: row.Amount, Mandatory: row.Mandatory})
			if len(batch) == batchSize {
				return send()
			}
			return nil
		})
		if len(batch) > 0 && !errors.Is(perr, errStopped) {
			send()
		}
	}()
	var yerr error
	for b := range batches {
		for _, row := range b {
			if yerr != nil {
				break
			}
			if yerr = yield(row); yerr != nil {
				close(stop)
			}
		}
	}
	// batches is closed: the parser has finished and perr is set.
	if yerr != nil {
		return yerr
	}
	return perr
}
