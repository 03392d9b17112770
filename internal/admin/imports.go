package admin

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"path/filepath"
	"strconv"
	"unicode/utf8"

	"campuspay/internal/apperr"
	"campuspay/internal/billing"
	"campuspay/internal/importer"
)

// MaxImportBytes bounds a file sent to the console (a 250,000-line bill
// file is about 12 MiB as CSV).
const MaxImportBytes = 64 << 20

// ImportPreview is what a file would do: the batch as recorded (previewed,
// or refused with its problems), and every bad line with its column and
// what is wrong.
type ImportPreview struct {
	Batch     ImportBatch
	Problems  []importer.LineError
	Truncated int
}

// target runs the importer's all-or-nothing imports through the store,
// with after in the import's transaction; a dry run's errDryRun is the
// expected end of a preview.
type target struct {
	st    Store
	ref   string
	after func(Tx, billing.ImportStats) error
}

func (t target) ImportStudents(ctx context.Context, schoolID int64, rows func(yield func(billing.StudentInput) error) error) (billing.ImportStats, error) {
	st, err := t.st.ImportStudentsWith(ctx, schoolID, rows, t.after)
	if errors.Is(err, errDryRun) {
		err = nil
	}
	return st, err
}

func (t target) ImportBills(ctx context.Context, schoolID int64, _ string, rows func(yield func(billing.BillInput) error) error, problem billing.Problem) (billing.ImportStats, error) {
	st, err := t.st.ImportBillsWith(ctx, schoolID, t.ref, rows, problem, t.after)
	if errors.Is(err, errDryRun) {
		err = nil
	}
	return st, err
}

var _ importer.Target = target{}

// run applies a file through the importer; problems come back as
// *importer.Errors, a file of another format as a problem of line 1.
func (t target) run(ctx context.Context, schoolID int64, kind, filename string, content []byte) (billing.ImportStats, *importer.Errors, error) {
	if _, err := importer.FormatOf(filename); err != nil {
		return billing.ImportStats{}, &importer.Errors{Errs: []importer.LineError{{Line: 1, Reason: err.Error()}}}, nil
	}
	st, err := importer.Apply(ctx, t, schoolID, kind, filename, bytes.NewReader(content))
	var ie *importer.Errors
	if errors.As(err, &ie) {
		return st, ie, nil
	}
	return st, nil, err
}

// PreviewImport checks a file of students or bills against the school
// exactly as applying it would (the same importer, inside a transaction
// that is then undone) and records it: previewed and kept for
// confirmation when every line is good, refused with its problems when
// not. Nothing of the file is applied.
func (s *Service) PreviewImport(ctx context.Context, p Principal, schoolID int64, kind, filename string, content []byte) (ImportPreview, error) {
	if _, err := s.school(ctx, p, PermImport, schoolID); err != nil {
		return ImportPreview{}, err
	}
	if kind != importer.Students && kind != importer.Bills {
		return ImportPreview{}, apperr.New(apperr.Invalid, apperr.CodeInvalidRequest, "导入类型须为 students 或 bills")
	}
	if len(content) > MaxImportBytes {
		return ImportPreview{}, apperr.New(apperr.Invalid, apperr.CodeInvalidRequest, "文件过大：最多 64 MiB")
	}
	filename = filepath.Base(filename)
	if utf8.RuneCountInString(filename) > 128 || !printable(filename) {
		filename = "upload" + filepath.Ext(filename)
	}
	sum := sha256.Sum256(content)
	t := target{st: s.st, ref: "preview", after: func(Tx, billing.ImportStats) error { return errDryRun }}
	stats, probs, err := t.run(ctx, schoolID, kind, filename, content)
	if err != nil {
		return ImportPreview{}, err
	}
	b := ImportBatch{SchoolID: schoolID, Kind: kind, Filename: filename, FileHash: hex.EncodeToString(sum[:]), Size: int64(len(content)),
		Status: ImportPreviewed, Stats: stats, StaffID: p.Staff.ID, StaffName: p.Staff.Username}
	keep := content
	if probs != nil {
		b.Status, b.Problems, keep = ImportRefused, probs.Len(), nil
	}
	err = s.st.AdminUpdate(ctx, func(tx Tx) error {
		if err := tx.InsertImportBatch(ctx, &b, keep); err != nil {
			return err
		}
		_, err := tx.Audit(ctx, record(p, ActImportPreview, "import:"+strconv.FormatInt(b.ID, 10), schoolID, nil, batchState(b)))
		return err
	})
	out := ImportPreview{Batch: b}
	if probs != nil {
		out.Problems, out.Truncated = probs.Errs, probs.Truncated
	}
	return out, err
}

func batchState(b ImportBatch) map[string]any {
	return map[string]any{"kind": b.Kind, "filename": b.Filename, "sha256": b.FileHash, "size": b.Size, "status": b.Status,
		"rows": b.Stats.Rows, "created": b.Stats.Created, "updated": b.Stats.Updated, "unchanged": b.Stats.Unchanged, "problems": b.Problems}
}

// ConfirmImport applies a previewed file, all or nothing, once: the batch
// is marked applied and audited in the import's own transaction. If the
// school changed since the preview so that a line is now bad, nothing is
// applied and the batch is refused with its problems.
func (s *Service) ConfirmImport(ctx context.Context, p Principal, schoolID, batchID int64) (ImportPreview, error) {
	if _, err := s.school(ctx, p, PermImport, schoolID); err != nil {
		return ImportPreview{}, err
	}
	var b ImportBatch
	var content []byte
	if err := s.st.AdminUpdate(ctx, func(tx Tx) error {
		var err error
		b, content, err = tx.LockImportBatch(ctx, schoolID, batchID)
		return err
	}); err != nil {
		return ImportPreview{}, notFoundAs(err, "没有这次导入")
	}
	if b.Status != ImportPreviewed || content == nil {
		return ImportPreview{Batch: b}, apperr.New(apperr.Conflict, CodeImportNotPending, "这次导入已处理（"+b.Status+"），请重新上传文件")
	}
	now := s.cfg.Now()
	t := target{st: s.st, ref: "import:" + strconv.FormatInt(b.ID, 10), after: func(tx Tx, st billing.ImportStats) error {
		cur, _, err := tx.LockImportBatch(ctx, schoolID, batchID)
		if err != nil {
			return err
		}
		if cur.Status != ImportPreviewed {
			return apperr.New(apperr.Conflict, CodeImportNotPending, "这次导入已处理，请刷新页面")
		}
		before := batchState(cur)
		cur.Status, cur.Stats, cur.AppliedBy, cur.AppliedAt = ImportApplied, st, p.Staff.ID, now
		tx.FinishImportBatch(cur)
		b = cur
		_, err = tx.Audit(ctx, record(p, ActImportApply, "import:"+strconv.FormatInt(cur.ID, 10), schoolID, before, batchState(cur)))
		return err
	}}
	_, probs, err := t.run(ctx, schoolID, b.Kind, b.Filename, content)
	if err != nil {
		return ImportPreview{Batch: b}, err
	}
	if probs == nil {
		// The import pays for the board's summary of what it changed,
		// so the next look at the board is quick.
		return ImportPreview{Batch: b}, s.st.RefreshBoard(ctx, 0)
	}
	err = s.st.AdminUpdate(ctx, func(tx Tx) error {
		cur, _, err := tx.LockImportBatch(ctx, schoolID, batchID)
		if err != nil {
			return err
		}
		if cur.Status != ImportPreviewed {
			return nil
		}
		before := batchState(cur)
		cur.Status, cur.Problems, cur.AppliedBy, cur.AppliedAt = ImportRefused, probs.Len(), p.Staff.ID, now
		tx.FinishImportBatch(cur)
		b = cur
		_, err = tx.Audit(ctx, record(p, ActImportRefused, "import:"+strconv.FormatInt(cur.ID, 10), schoolID, before, batchState(cur)))
		return err
	})
	return ImportPreview{Batch: b, Problems: probs.Errs, Truncated: probs.Truncated}, err
}

// Imports lists a school's import history, newest first.
func (s *Service) Imports(ctx context.Context, p Principal, schoolID int64) ([]ImportBatch, error) {
	if _, err := s.school(ctx, p, PermViewImports, schoolID); err != nil {
		return nil, err
	}
	return s.st.ImportBatches(ctx, schoolID, 200)
}
