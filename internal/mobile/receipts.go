package mobile

import (
	"context"
	"net/http"
	"strconv"

	"campuspay/internal/account"
	"campuspay/internal/apperr"
	"campuspay/internal/payment"
	"campuspay/internal/receipt"
	"campuspay/internal/receipts"
	"campuspay/internal/remind"
)

// Receipts is what the app needs of receipts (receipts.Service).
type Receipts interface {
	ForStudent(ctx context.Context, studentID int64, orderNo string) (receipt.Receipt, error)
	ForStudentPDF(ctx context.Context, studentID int64, orderNo string) (receipt.Receipt, error)
}

// Reminders is what the app needs of the finance office's reminders
// (remind.Service): the notice a student is shown, and its dismissal.
type Reminders interface {
	Notices(ctx context.Context, studentID int64) ([]remind.Notice, error)
	Dismiss(ctx context.Context, studentID, id int64) error
}

var (
	_ Receipts  = (*receipts.Service)(nil)
	_ Reminders = (*remind.Service)(nil)
)

// receiptURL is the page of an order's receipt, or "" when it has none.
func (h *handler) receiptURL(b account.Bound, o payment.Order) string {
	if h.Receipts == nil || !receipts.Issued(o) {
		return ""
	}
	return studentBase(b.Student.ID) + "orders/" + o.OrderNo + "/receipt"
}

func (h *handler) ownReceipt(w http.ResponseWriter, r *http.Request, p account.Principal, b account.Bound, pdf bool) (receipt.Receipt, bool) {
	if h.Receipts == nil {
		h.renderError(w, r, &p, http.StatusNotFound, errorView{Message: "页面不存在"}, "/m/")
		return receipt.Receipt{}, false
	}
	get := h.Receipts.ForStudent
	if pdf {
		get = h.Receipts.ForStudentPDF
	}
	rc, err := get(r.Context(), b.Student.ID, r.PathValue("order_no"))
	if err != nil {
		h.fail(w, r, &p, err)
		return receipt.Receipt{}, false
	}
	return rc, true
}

// receiptPage is GET /m/s/{sid}/orders/{no}/receipt: 缴费凭证.
func (h *handler) receiptPage(w http.ResponseWriter, r *http.Request, p account.Principal, b account.Bound) {
	rc, ok := h.ownReceipt(w, r, p, b, false)
	if !ok {
		return
	}
	order := studentBase(b.Student.ID) + "orders/" + rc.OrderNo
	if err := receipts.WritePage(w, rc, receipts.Links{Back: order, BackLabel: "订单详情", PDF: order + "/receipt.pdf"}); err != nil {
		h.Log.Error("mobile: receipt page", "order_no", rc.OrderNo, "err", err)
	}
}

// receiptPDF is GET /m/s/{sid}/orders/{no}/receipt.pdf.
func (h *handler) receiptPDF(w http.ResponseWriter, r *http.Request, p account.Principal, b account.Bound) {
	rc, ok := h.ownReceipt(w, r, p, b, true)
	if !ok {
		return
	}
	if err := receipts.WritePDF(w, rc); err != nil {
		h.Log.Error("mobile: receipt pdf", "order_no", rc.OrderNo, "err", err)
	}
}

// reminderView is the finance office's reminder on a student's fee page.
type reminderView struct {
	Sent       string
	Items      int
	Owed       string
	DismissURL string
}

// remindersOf are the reminders a bound student is shown now; a failure
// to read them never keeps the page from showing.
func (h *handler) remindersOf(ctx context.Context, b account.Bound) []reminderView {
	if h.Reminders == nil {
		return nil
	}
	ns, err := h.Reminders.Notices(ctx, b.Student.ID)
	if err != nil {
		h.Log.Error("mobile: reminders", "err", err)
		return nil
	}
	var out []reminderView
	for _, n := range ns {
		out = append(out, reminderView{Sent: fmtTime(n.SentAt), Items: n.Items, Owed: n.Owed.Yuan(),
			DismissURL: studentBase(b.Student.ID) + "notices/" + strconv.FormatInt(n.ID, 10) + "/dismiss"})
	}
	return out
}

// dismissNotice is POST /m/s/{sid}/notices/{id}/dismiss: 知道了.
func (h *handler) dismissNotice(w http.ResponseWriter, r *http.Request, p account.Principal, b account.Bound) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if h.Reminders == nil || err != nil || id <= 0 {
		h.renderError(w, r, &p, http.StatusNotFound, errorView{Message: "该提醒不存在或已关闭"}, studentBase(b.Student.ID))
		return
	}
	if err := h.Reminders.Dismiss(r.Context(), b.Student.ID, id); err != nil && apperr.CodeOf(err) != remind.CodeNoticeNotFound {
		h.fail(w, r, &p, err)
		return
	}
	http.Redirect(w, r, studentBase(b.Student.ID), http.StatusSeeOther)
}
