package importer_test

import (
	"context"
	"errors"
	"reflect"
	"strings"
	"testing"

	"campuspay/internal/importer"
	"campuspay/internal/store"
	"campuspay/internal/store/storetest"
)

func TestApplyReportsParseAndReferenceErrorsInOnePass(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		school, students := storetest.Seed(t, s)
		before, err := s.Lines(ctx, students[0].ID)
		if err != nil {
			t.Fatal(err)
		}
		file := "学号,收费项目,子项目,应缴金额,必缴\n" + // 1
			"2025001,2026学年住宿费,住宿费,1300.00,是\n" + // 2 new, valid
			"2025002,2026学年住宿费,住宿费,13OO,是\n" + // 3 bad amount
			"2025003,2026学年住宿费,住宿费,1300.00,是\n" + // 4 valid
			"2099999,2026学年住宿费,住宿费,1300.00,是\n" + // 5 unknown student
			"2025001,2026学年住宿费,空调费,200.00,否\n" + // 6 valid
			"2025002,2026学年住宿费,空调费,200.00,\u202e否\n" + // 7 hidden character
			"2098888,2026学年住宿费,空调费,200.00,否\n" // 8 unknown student
		_, err = importer.Apply(ctx, s, school.ID, importer.Bills, "bills.csv", strings.NewReader(file))
		var errs *importer.Errors
		if !errors.As(err, &errs) {
			t.Fatalf("err %T %v, want *importer.Errors", err, err)
		}
		type got struct {
			line   int
			column string
		}
		var lines []got
		for _, e := range errs.Errs {
			lines = append(lines, got{e.Line, e.Column})
		}
		want := []got{{3, "应缴金额"}, {5, "学号"}, {7, "必缴"}, {8, "学号"}}
		if !reflect.DeepEqual(lines, want) || errs.Truncated != 0 {
			t.Fatalf("errors %v, want %v:\n%v", lines, want, errs)
		}
		msg := errs.Error()
		for _, part := range []string{"第 3 行：应缴金额格式错误", "第 5 行：学号 2099999 不在本校学生名单中", "第 7 行：必缴含有不可见字符 U+202E", "第 8 行：学号 2098888"} {
			if !strings.Contains(msg, part) {
				t.Errorf("message lacks %q:\n%s", part, msg)
			}
		}

		// Nothing of the file was applied: the valid lines 2, 4 and 6 are not there.
		after, err := s.Lines(ctx, students[0].ID)
		if err != nil {
			t.Fatal(err)
		}
		if len(after) != len(before) {
			t.Fatalf("student 2025001 has %d lines after a refused import, %d before", len(after), len(before))
		}
		// And a corrected file applies in full.
		fixed := "学号,收费项目,子项目,应缴金额,必缴\n" +
			"2025001,2026学年住宿费,住宿费,1300.00,是\n" +
			"2025003,2026学年住宿费,住宿费,1300.00,是\n" +
			"2025001,2026学年住宿费,空调费,200.00,否\n"
		stats, err := importer.Apply(ctx, s, school.ID, importer.Bills, "bills.csv", strings.NewReader(fixed))
		if err != nil || stats.Created != 3 {
			t.Fatalf("corrected file: %+v %v", stats, err)
		}
	})
}

func TestApplyStudentsWithABadLineAppliesNothing(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		school, _ := storetest.Seed(t, s)
		n0, err := s.CountStudents(ctx, school.ID)
		if err != nil {
			t.Fatal(err)
		}
		file := "学号,姓名\n2026001,新生甲\n2026002,新\u202e生乙\n2026003,新生丙\n"
		_, err = importer.Apply(ctx, s, school.ID, importer.Students, "students.csv", strings.NewReader(file))
		var errs *importer.Errors
		if !errors.As(err, &errs) || len(errs.Errs) != 1 || errs.Errs[0].Line != 3 {
			t.Fatalf("err %v", err)
		}
		if n, err := s.CountStudents(ctx, school.ID); err != nil || n != n0 {
			t.Fatalf("%d students after a refused import, %d before (%v)", n, n0, err)
		}
	})
}
