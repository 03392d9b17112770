package web

import (
	"context"
	"net/http"
	"strconv"

	"campuspay/internal/apperr"
	"campuspay/internal/auth"
	"campuspay/internal/payment"
	"campuspay/internal/receipt"
	"campuspay/internal/receipts"
	"campuspay/internal/remind"
)

// Receipts is what the portal needs of receipts (receipts.Service).
type Receipts interface {
	ForStudent(ctx context.Context, studentID int64, orderNo string) (receipt.Receipt, error)
	ForStudentPDF(ctx context.Context, studentID int64, orderNo string) (receipt.Receipt, error)
}

// Reminders is what the portal needs of the finance office's reminders
// (remind.Service): the notice a student is shown, and its dismissal.
type Reminders interface {
	Notices(ctx context.Context, studentID int64) ([]remind.Notice, error)
	Dismiss(ctx context.Context, studentID, id int64) error
}

var (
	_ Receipts  = (*receipts.Service)(nil)
	_ Reminders = (*remind.Service)(nil)
)

// receiptURL is the page of an order's receipt, or "" when it has none
// (not paid, or receipts are not wired).
func (h *handler) receiptURL(p auth.Principal, o payment.Order) string {
	if h.Receipts == nil || !receipts.Issued(o) {
		return ""
	}
	return schoolPath(p.School.Code, "orders", o.OrderNo, "receipt")
}

func (h *handler) ownReceipt(w http.ResponseWriter, r *http.Request, p auth.Principal, pdf bool) (receipt.Receipt, bool) {
	if h.Receipts == nil {
		h.notFound(w, r)
		return receipt.Receipt{}, false
	}
	get := h.Receipts.ForStudent
	if pdf {
		get = h.Receipts.ForStudentPDF
	}
	rc, err := get(r.Context(), p.Student.ID, r.PathValue("order_no"))
	if err != nil {
		h.fail(w, r, &p, err)
		return receipt.Receipt{}, false
	}
	return rc, true
}

// receiptPage is GET …/orders/{no}/receipt: the receipt to read and print.
func (h *handler) receiptPage(w http.ResponseWriter, r *http.Request, p auth.Principal) {
	rc, ok := h.ownReceipt(w, r, p, false)
	if !ok {
		return
	}
	base := schoolPath(p.School.Code, "orders", rc.OrderNo, "receipt")
	if err := receipts.WritePage(w, rc, receipts.Links{Back: schoolPath(p.School.Code, "orders"), BackLabel: "缴费记录", PDF: base + ".pdf"}); err != nil {
		h.Log.Error("web: receipt page", "order_no", rc.OrderNo, "err", err)
	}
}

// receiptPDF is GET …/orders/{no}/receipt.pdf: the receipt to download.
func (h *handler) receiptPDF(w http.ResponseWriter, r *http.Request, p auth.Principal) {
	rc, ok := h.ownReceipt(w, r, p, true)
	if !ok {
		return
	}
	if err := receipts.WritePDF(w, rc); err != nil {
		h.Log.Error("web: receipt pdf", "order_no", rc.OrderNo, "err", err)
	}
}

// reminderView is the finance office's reminder on the fee page.
type reminderView struct {
	ID         int64
	Sent       string
	Items      int
	Owed       string
	DismissURL string
}

// remindersOf are the reminders the student is shown now; a failure to
// read them never keeps the fee page from showing.
func (h *handler) remindersOf(ctx context.Context, p auth.Principal) []reminderView {
	if h.Reminders == nil {
		return nil
	}
	ns, err := h.Reminders.Notices(ctx, p.Student.ID)
	if err != nil {
		h.Log.Error("web: reminders", "err", err)
		return nil
	}
	var out []reminderView
	for _, n := range ns {
		out = append(out, reminderView{ID: n.ID, Sent: fmtTime(n.SentAt), Items: n.Items, Owed: n.Owed.Yuan(),
			DismissURL: schoolPath(p.School.Code, "notices", strconv.FormatInt(n.ID, 10), "dismiss")})
	}
	return out
}

// dismissNotice is POST …/notices/{id}/dismiss: 知道了.
func (h *handler) dismissNotice(w http.ResponseWriter, r *http.Request, p auth.Principal) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if h.Reminders == nil || err != nil || id <= 0 {
		h.notFound(w, r)
		return
	}
	if err := h.Reminders.Dismiss(r.Context(), p.Student.ID, id); err != nil && apperr.CodeOf(err) != remind.CodeNoticeNotFound {
		h.fail(w, r, &p, err)
		return
	}
	http.Redirect(w, r, schoolPath(p.School.Code, "fees"), http.StatusSeeOther)
}
