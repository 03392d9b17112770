package admin

import (
	"context"
	"time"

	"campuspay/internal/audit"
	"campuspay/internal/billing"
	"campuspay/internal/board"
	"campuspay/internal/jobs"
	"campuspay/internal/journal"
	"campuspay/internal/money"
	"campuspay/internal/payment"
)

// Staff is a member of a finance office or of the platform.
type Staff struct {
	ID                 int64
	SchoolID           int64 // 0 for an operator
	SchoolCode         string
	Username           string
	DisplayName        string
	Role               Role
	PasswordHash       string
	MustChangePassword bool
	TOTPSecret         string // base32
	TOTPPending        string // a new secret awaiting its first code
	TOTPLastStep       int64  // the last 30-second step a code was accepted for
	Disabled           bool
	CreatedAt          time.Time
}

// Session is a staff login: a console cookie or an API token, stored under
// the hash of its secret.
type Session struct {
	TokenHash string
	StaffID   int64
	Kind      string // KindWeb or KindAPI
	CSRF      string
	Client    string
	CreatedAt time.Time
	LastSeen  time.Time
	ExpiresAt time.Time
}

// Project is a fee project (大项目) with its items in display order.
type Project struct {
	ID    int64
	Name  string
	Sort  int
	Items []Item
}

// Item is a fee item (子项目); Mandatory is the default flag of bills the
// fee standards generate.
type Item struct {
	ID        int64
	ProjectID int64
	Name      string
	Sort      int
	Mandatory bool
	Lines     int // bill lines of the item
}

// Standard is a fee standard: what every student of a grade (and major,
// and dormitory type, when set) owes for an item.
type Standard struct {
	ID        int64
	SchoolID  int64
	Grade     string
	Major     string // "" for every major
	DormType  string // "" for every dormitory type
	Project   string
	Item      string
	Amount    money.Fen
	Mandatory bool
}

// CohortStudent is a student as fee standards see them.
type CohortStudent struct {
	StudentNo string
	Major     string
	DormType  string
}

// ImportBatch is one file sent to the console: previewed, refused or
// applied, with who, when, its SHA-256 and counts.
type ImportBatch struct {
	ID        int64
	SchoolID  int64
	Kind      string // importer.Students or importer.Bills
	Filename  string
	FileHash  string
	Size      int64
	Status    string // ImportPreviewed, ImportRefused, ImportApplied, ImportSuperseded
	Stats     billing.ImportStats
	Problems  int
	StaffID   int64
	StaffName string
	CreatedAt time.Time
	AppliedBy int64
	AppliedAt time.Time
}

// Import statuses.
const (
	ImportPreviewed  = "previewed"
	ImportRefused    = "refused"
	ImportApplied    = "applied"
	ImportSuperseded = "superseded"
)

// StudentRow is a student in a search result.
type StudentRow struct {
	ID        int64
	StudentNo string
	Name      string
	Grade     string
	Major     string
	Class     string
	Phone     string
	Due, Paid money.Fen
}

// JournalLine is a journal entry as it touched one student's receivable.
type JournalLine struct {
	EntryID   int64
	Kind      string
	Ref       string
	Memo      string
	Amount    money.Fen // on the student's receivable: + owed more, − paid or reduced
	CreatedAt time.Time
}

// PaymentRow is one payment in an export.
type PaymentRow struct {
	PaidAt       time.Time
	OrderNo      string
	StudentNo    string
	Name         string
	Grade, Major string
	Class        string
	Channel      string
	ChannelTxnID string
	Amount       money.Fen
	Disposition  string
	Items        string // "项目/子项目 金额; …"
}

// OutstandingRow is one unpaid bill line in an export.
type OutstandingRow struct {
	StudentNo    string
	Name         string
	Grade, Major string
	Class        string
	Phone        string
	Project      string
	Item         string
	Mandatory    bool
	Due, Paid    money.Fen
}

// AuditQuery filters the audit log; zero fields do not filter.
type AuditQuery struct {
	Chain    int64
	Actor    string
	Action   string // a prefix, e.g. "staff."
	From, To time.Time
	BeforeID int64 // page: rows with smaller ids
	Limit    int
}

// Hour is one hour of a school's payments, for the chart.
type Hour struct {
	Start    time.Time
	Amount   money.Fen
	Payments int
}

// Binding is a phone account that acts for a student (R6).
type Binding struct {
	Phone     string
	CreatedAt time.Time
}

// Store is what the console's services read and write. Every change runs
// in AdminUpdate's transaction, with its audit row.
type Store interface {
	AdminUpdate(ctx context.Context, fn func(tx Tx) error) error
	// DeadJobs lists the background jobs given up, newest first; DeadJob
	// is one of them (not found when it is not dead).
	DeadJobs(ctx context.Context, limit int) ([]jobs.Dead, error)
	DeadJob(ctx context.Context, id int64) (jobs.Dead, error)
	// ImportStudentsWith and ImportBillsWith are the importer's all-or-
	// nothing imports (the same engine and journal as the command line);
	// after runs in the import's transaction once every row is applied
	// (its error undoes the whole import).
	ImportStudentsWith(ctx context.Context, schoolID int64, rows func(yield func(billing.StudentInput) error) error,
		after func(tx Tx, st billing.ImportStats) error) (billing.ImportStats, error)
	ImportBillsWith(ctx context.Context, schoolID int64, ref string, rows func(yield func(billing.BillInput) error) error,
		problem billing.Problem, after func(tx Tx, st billing.ImportStats) error) (billing.ImportStats, error)

	SchoolByID(ctx context.Context, id int64) (billing.School, error)
	SchoolByCode(ctx context.Context, code string) (billing.School, error)
	Schools(ctx context.Context) ([]billing.School, error)

	StaffByUsername(ctx context.Context, username string) (Staff, error)
	StaffByID(ctx context.Context, id int64) (Staff, error)
	StaffList(ctx context.Context, schoolID int64) ([]Staff, error)
	StaffSession(ctx context.Context, tokenHash string) (Session, Staff, error)
	TouchStaffSession(ctx context.Context, tokenHash string, at time.Time) error
	DeleteStaffSession(ctx context.Context, tokenHash string) error

	FeeProjects(ctx context.Context, schoolID int64) ([]Project, error)
	Standards(ctx context.Context, schoolID int64) ([]Standard, error)
	CohortStudents(ctx context.Context, schoolID int64, grade string) ([]CohortStudent, error)
	DormCounts(ctx context.Context, schoolID int64) (map[string]int, error)

	ImportBatches(ctx context.Context, schoolID int64, limit int) ([]ImportBatch, error)

	RefreshBoard(ctx context.Context, budget time.Duration) error
	BoardCells(ctx context.Context, schoolID int64) ([]board.CellRow, error)
	BoardHours(ctx context.Context, schoolID int64, since time.Time) ([]Hour, error)

	SearchStudents(ctx context.Context, schoolID int64, q string, limit int) ([]StudentRow, error)
	StudentByNo(ctx context.Context, schoolID int64, no string) (billing.Student, error)
	Lines(ctx context.Context, studentID int64) ([]billing.Line, error)
	LinesAndHolds(ctx context.Context, studentID int64) ([]billing.Line, []billing.Hold, error)
	Orders(ctx context.Context, studentID int64) ([]payment.Order, error)
	OrderEvents(ctx context.Context, orderNo string) ([]payment.Event, error)
	StudentJournal(ctx context.Context, studentID int64) ([]JournalLine, error)

	ExportPayments(ctx context.Context, schoolID int64, from, to time.Time, fn func(PaymentRow) error) error
	ExportOutstanding(ctx context.Context, schoolID int64, fn func(OutstandingRow) error) error

	AuditRecords(ctx context.Context, q AuditQuery) ([]audit.Record, error)
	AuditChains(ctx context.Context) (map[int64]AuditHead, error)
	WalkAudit(ctx context.Context, chain int64, fn func(audit.Record) error) error
	WalkJournal(ctx context.Context, from, to int64, fn func(journal.Entry, time.Time) error) error
	SealJournal(ctx context.Context, digest func(from, to int64) (write func(tx Tx) error, err error)) (sealed bool, err error)
	UnsealedEntries(ctx context.Context) (int, error)
}

// AuditHead is where a chain ends.
type AuditHead struct {
	Seq  int64
	Hash string
}

// Tx is one transaction of the console. Writes are queued and checked at
// commit; a guarded write that changes another number of rows than it
// must fails the whole transaction.
type Tx interface {
	Now() time.Time
	// Audit links r into its chain (r.Chain) and appends it: the chain's
	// head is locked for the rest of the transaction.
	Audit(ctx context.Context, r audit.Record) (audit.Record, error)

	InsertStaff(ctx context.Context, st *Staff, recoveryHashes []string) error
	LockStaff(ctx context.Context, id int64) (Staff, error)
	UpdateStaff(st Staff)
	ReplaceRecoveryCodes(staffID int64, hashes []string)
	UseRecoveryCode(ctx context.Context, staffID int64, hash string) (bool, error)
	UseTOTPStep(ctx context.Context, staffID, step int64) (bool, error)
	InsertStaffSession(se Session)
	// ReviveJob makes a dead job due at once with its attempts afresh.
	ReviveJob(id int64)
	DeleteStaffSessions(staffID int64, keep string)
	EndStaffSession(tokenHash string)

	SetPolicy(schoolID int64, p billing.Policy)
	SaveProject(ctx context.Context, schoolID int64, p *Project) error
	SaveItem(ctx context.Context, schoolID int64, it *Item, applyToLines bool) error
	SaveStandard(ctx context.Context, st *Standard) error
	DeleteStandard(ctx context.Context, schoolID, id int64) (Standard, error)
	SetDorms(ctx context.Context, schoolID int64, dorms map[string]string) (unknown []string, err error)

	InsertImportBatch(ctx context.Context, b *ImportBatch, content []byte) error
	LockImportBatch(ctx context.Context, schoolID, id int64) (ImportBatch, []byte, error)
	FinishImportBatch(b ImportBatch)
}
