// Package demo ships the demo school's files inside the binary, so that
// `campuspay demo` works from anywhere. The same files are in this folder
// for `campuspay import` by hand.
package demo

import "embed"

// Files holds students.csv, bills.csv, bills.xlsx and the other demo files.
//
//go:embed *.csv *.xlsx
var Files embed.FS
