// Package demo ships the demo school's files inside the binary, so that
// `campuspay demo` works from anywhere. The same files are in this folder
// for `campuspay import` by hand.
package demo

import (
	"embed"
	"encoding/csv"
	"strings"
	"sync"
)

// Files holds students.csv, bills.csv, bills.xlsx and the other demo files.
//
//go:embed *.csv *.xlsx
var Files embed.FS

// IDLast6 is the last 6 characters of a demo student's ID number: what
// the first password change asks for (R5). "" for an unknown student.
func IDLast6(studentNo string) string {
	rows, err := readStudents()
	if err != nil {
		return ""
	}
	return rows[studentNo]
}

var (
	studentsOnce sync.Once
	studentIDs   map[string]string
	studentsErr  error
)

func readStudents() (map[string]string, error) {
	studentsOnce.Do(func() {
		f, err := Files.Open("students.csv")
		if err != nil {
			studentsErr = err
			return
		}
		defer f.Close()
		recs, err := csv.NewReader(f).ReadAll()
		if err != nil {
			studentsErr = err
			return
		}
		studentIDs = map[string]string{}
		for _, r := range recs[1:] {
			if len(r) > 2 && len(r[2]) >= 6 {
				studentIDs[r[0]] = strings.ToUpper(r[2][len(r[2])-6:])
			}
		}
	})
	return studentIDs, studentsErr
}
