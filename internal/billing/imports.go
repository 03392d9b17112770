package billing

import "campuspay/internal/money"

// StudentInput is one student from a roll import.
type StudentInput struct {
	Line      int
	StudentNo string
	Name      string
	IDCard    string
	Grade     string
	Major     string
	Class     string
	Phone     string
}

// BillInput is one bill line from a bill import.
type BillInput struct {
	Line      int
	StudentNo string
	Project   string
	Item      string
	Amount    money.Fen
	Mandatory bool
}

// ImportStats counts what an import changed.
type ImportStats struct {
	Rows      int
	Created   int
	Updated   int
	Unchanged int
}

// Problem reports a row that cannot be applied (line number, column, reason in Chinese).
type Problem func(line int, column, reason string)
