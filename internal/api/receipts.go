package api

import (
	"context"
	"mime"
	"net/http"
	"strings"

	"campuspay/internal/apperr"
	"campuspay/internal/auth"
	"campuspay/internal/receipt"
	"campuspay/internal/receipts"
)

// Receipts is what the API needs of receipts (receipts.Service).
type Receipts interface {
	ForStudent(ctx context.Context, studentID int64, orderNo string) (receipt.Receipt, error)
	ForStudentPDF(ctx context.Context, studentID int64, orderNo string) (receipt.Receipt, error)
}

var _ Receipts = (*receipts.Service)(nil)

// wantsPDF reports whether the client asked for the PDF: ?format=pdf, or
// an Accept header that prefers application/pdf to JSON.
func wantsPDF(r *http.Request) bool {
	switch r.URL.Query().Get("format") {
	case "pdf":
		return true
	case "json":
		return false
	}
	for _, part := range strings.Split(r.Header.Get("Accept"), ",") {
		mt, _, err := mime.ParseMediaType(strings.TrimSpace(part))
		if err != nil {
			continue
		}
		switch mt {
		case "application/pdf":
			return true
		case "application/json", "*/*", "application/*":
			return false
		}
	}
	return false
}

// receipt is GET /api/v1/orders/{order_no}/receipt: the receipt (缴费凭证)
// of a paid order as JSON, or as the PDF to print.
func (h *handler) receipt(w http.ResponseWriter, r *http.Request, p auth.Principal) {
	if h.Receipts == nil {
		h.writeErr(w, apperr.New(apperr.NotFound, apperr.CodeNotFound, "接口不存在"))
		return
	}
	if f := r.URL.Query().Get("format"); f != "" && f != "pdf" && f != "json" {
		h.writeErr(w, apperr.New(apperr.Invalid, apperr.CodeInvalidRequest, "format 须为 json 或 pdf"))
		return
	}
	pdf := wantsPDF(r)
	get := h.Receipts.ForStudent
	if pdf {
		get = h.Receipts.ForStudentPDF
	}
	rc, err := get(r.Context(), p.Student.ID, r.PathValue("order_no"))
	if err != nil {
		h.writeErr(w, err)
		return
	}
	if pdf {
		if err := receipts.WritePDF(w, rc); err != nil {
			h.Log.Error("api: receipt pdf", "order_no", rc.OrderNo, "err", err)
		}
		return
	}
	items := make([]map[string]any, 0, len(rc.Items))
	for _, it := range rc.Items {
		items = append(items, map[string]any{"project": it.Project, "name": it.Name, "amount": it.Amount})
	}
	body := map[string]any{
		"receipt_no": rc.ReceiptNo, "order_no": rc.OrderNo, "school_name": rc.SchoolName, "platform_name": rc.PlatformName,
		"student": map[string]any{"student_no": rc.StudentNo, "name": rc.StudentName, "grade": rc.Grade, "major": rc.Major, "class": rc.Class},
		"items":   items, "amount": rc.Total, "amount_in_words": receipt.Capital(rc.Total), "refunded": rc.Refunded,
		"channel": rc.Channel, "paid_at": timeOrNil(rc.PaidAt), "verify_code": rc.VerifyCode, "verify_url": rc.VerifyURL,
	}
	if rc.MaskedCard != "" {
		body["masked_card"] = rc.MaskedCard
	}
	writeJSON(w, http.StatusOK, body)
}
