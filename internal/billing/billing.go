// Package billing is the heart of the domain: schools and their payment
// policy, students, fee projects (大项目) and items (子项目), each student's
// bill lines in fen, and the rules R7, R8 and R9 that decide what a student
// may pay now. It imports neither net/http nor database/sql.
package billing

import (
	"strings"
	"time"
	"unicode/utf8"

	"campuspay/internal/apperr"
	"campuspay/internal/money"
)

// Policy is a school's payment policy (SPEC R5, R7, R8, R9, R12).
type Policy struct {
	InitialPassword string `json:"initial_password"` // R5: "111111" unless the school sets another
	// InitialPasswordRule is "" for InitialPassword, or InitialIDCardLast6:
	// each student's first password is the last 6 characters of their ID
	// number (InitialPassword where the roll has none).
	InitialPasswordRule string   `json:"initial_password_rule,omitempty"`
	LockMinutes         int      `json:"lock_minutes"`          // R9: how long an unpaid order holds its items
	MandatoryFirst      bool     `json:"mandatory_first"`       // R7 on
	OneProjectPerOrder  bool     `json:"one_project_per_order"` // R8 on
	HelpLine            string   `json:"help_line"`             // R12
	HelpHours           string   `json:"help_hours"`
	RecommendedBanks    []string `json:"recommended_banks"`
	Channels            []string `json:"channels,omitempty"` // enabled channel names; empty: all the platform has
	// PlatformName is what students see the platform called (e.g. 校园安心付);
	// empty: the platform's default.
	PlatformName string `json:"platform_name,omitempty"`
}

// DefaultPolicy is the seed's policy: initial password 111111, a 10-minute
// lock, R7 and R8 on, the seed's help line and banks, every channel.
func DefaultPolicy() Policy {
	return Policy{
		InitialPassword:    "111111",
		LockMinutes:        10,
		MandatoryFirst:     true,
		OneProjectPerOrder: true,
		HelpLine:           "400-028-1024",
		HelpHours:          "周一至周五 9:00—20:00，周六 9:00—18:00",
		RecommendedBanks:   []string{"中国工商银行", "中国建设银行", "中国农业银行"},
	}
}

// InitialIDCardLast6 is the initial-password rule "the last 6 characters
// of the ID number" (R5).
const InitialIDCardLast6 = "id_card_last6"

// InitialPasswordFor is a student's initial password under the policy.
func (p Policy) InitialPasswordFor(st Student) string {
	if p.InitialPasswordRule == InitialIDCardLast6 && len(st.IDCard) >= 6 {
		return strings.ToUpper(st.IDCard[len(st.IDCard)-6:])
	}
	return p.InitialPassword
}

// LockDuration is the R9 hold as a duration.
func (p Policy) LockDuration() time.Duration {
	if p.LockMinutes <= 0 {
		return 10 * time.Minute
	}
	return time.Duration(p.LockMinutes) * time.Minute
}

// ChannelEnabled reports whether the school takes payments on channel;
// an empty list enables every channel the platform has.
func (p Policy) ChannelEnabled(channel string) bool {
	if len(p.Channels) == 0 {
		return true
	}
	for _, c := range p.Channels {
		if c == channel {
			return true
		}
	}
	return false
}

// School is one tenant of the platform.
type School struct {
	ID         int64
	Code       string
	Name       string
	RegionCode string
	RegionName string
	Policy     Policy
}

// CodeSchoolExists refuses a second school with the same code.
const CodeSchoolExists = "school_exists"

// SchoolExists is the refusal of a second school with code.
func SchoolExists(code string) *apperr.Error {
	return apperr.New(apperr.Conflict, CodeSchoolExists, "学校代码 "+code+" 已存在")
}

// ColumnAmount is the bills file's amount column, as refusals name it.
const ColumnAmount = "应缴金额"

// Validate checks what a school must have.
func (s School) Validate() error {
	if s.Code == "" || s.Name == "" || s.RegionCode == "" {
		return apperr.New(apperr.Invalid, "invalid_school", "学校代码、名称和地区代码不能为空")
	}
	return nil
}

// Student is a student on a school's roll.
type Student struct {
	ID                 int64
	SchoolID           int64
	StudentNo          string
	Name               string
	IDCard             string // stored whole, always shown through MaskIDCard
	Grade, Major       string
	Class              string
	Phone              string
	PasswordHash       string
	MustChangePassword bool
	FailedLogins       int
	LockedUntil        time.Time
}

// Line is one bill line: what a student owes for one item of one project.
type Line struct {
	ID          int64
	StudentID   int64
	ProjectID   int64
	ProjectName string
	ItemID      int64
	ItemName    string
	Amount      money.Fen // due
	Paid        money.Fen // received and applied
	Mandatory   bool
	// What the finance office changed (see Adjusted): waived and refunded
	// lowered Amount; Loan is the part of Paid a student loan paid;
	// DeferredUntil, when set, is the day before which the line may not be
	// paid (缓缴).
	Waived        money.Fen
	Refunded      money.Fen
	Loan          money.Fen
	DeferredUntil time.Time
}

// Unpaid is what is still owed on the line.
func (l Line) Unpaid() money.Fen { return l.Amount - l.Paid }

// IsPaid reports whether nothing is owed.
func (l Line) IsPaid() bool { return l.Paid >= l.Amount }

// Hold is an open order's claim on a line (R9).
type Hold struct {
	LineID  int64
	OrderNo string
	Until   time.Time
}

// Active reports whether the hold still blocks other orders at now.
func (h Hold) Active(now time.Time) bool { return now.Before(h.Until) }

// MaskIDCard shows an ID number as its first 3 and last 4 characters
// (500***********1234); short values are masked whole.
func MaskIDCard(id string) string { return maskMiddle(id, 3, 4) }

// MaskPhone shows a phone number as 138****0001.
func MaskPhone(p string) string { return maskMiddle(p, 3, 4) }

// MaskCard shows a card number as its first 6 and last 4 digits.
func MaskCard(c string) string { return maskMiddle(c, 6, 4) }

func maskMiddle(s string, head, tail int) string {
	n := utf8.RuneCountInString(s)
	if n == 0 {
		return ""
	}
	r := []rune(s)
	if n <= head+tail {
		return strings.Repeat("*", n)
	}
	return string(r[:head]) + strings.Repeat("*", n-head-tail) + string(r[n-tail:])
}
