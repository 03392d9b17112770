// Package receipt makes the electronic receipt (电子收据, 缴费凭证) of a paid
// order: a printable PDF with Chinese text, the amount in capital
// numerals, a verification code and a QR code that opens a public page
// confirming the order, amount and date. It holds no database or HTTP
// code: callers fill a Receipt and wire routes and pages.
package receipt

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"campuspay/internal/money"
)

// Item is one paid line of the order.
type Item struct {
	Project string    // 收费项目, e.g. 2025学年学费住宿费
	Name    string    // 收费子项, e.g. 学费
	Amount  money.Fen // what this order paid for it
}

// Receipt is everything a receipt shows. Grade, Major, Class, MaskedCard
// and Refunded may be empty or zero.
type Receipt struct {
	PlatformName string // e.g. 校园统一缴费平台
	SchoolName   string
	ReceiptNo    string // see Number
	OrderNo      string
	StudentNo    string
	StudentName  string
	Grade        string
	Major        string
	Class        string
	Items        []Item
	Total        money.Fen // the sum of Items: what the channel took
	Channel      string    // e.g. 银联在线, 微信支付
	MaskedCard   string    // e.g. 6216 **** **** 0018, as the channel reports it
	PaidAt       time.Time
	Refunded     money.Fen // refunded so far; a partly refunded order shows it
	VerifyCode   string    // Code of OrderNo, Total and PaidAt
	VerifyURL    string    // the public page the QR code opens
}

// ErrInvalid is wrapped by PDF's error for a receipt that does not add up
// or lacks what every receipt needs.
var ErrInvalid = errors.New("receipt: invalid receipt")

// Number is the receipt number of an order: "SJ" (收据) and the order
// number, so that one order has one receipt and either number finds the
// other.
func Number(orderNo string) string { return "SJ" + orderNo }

// beijing is the time zone receipts are written in, fixed so that no
// time-zone database is needed.
var beijing = time.FixedZone("CST", 8*3600)

// Validate reports what makes r unfit to print: missing numbers, names,
// time or verification, amounts that are negative or do not add up.
func (r Receipt) Validate() error {
	var missing []string
	for _, f := range []struct{ name, v string }{
		{"school name", r.SchoolName}, {"receipt number", r.ReceiptNo}, {"order number", r.OrderNo},
		{"student number", r.StudentNo}, {"student name", r.StudentName}, {"channel", r.Channel},
		{"verification code", r.VerifyCode}, {"verification URL", r.VerifyURL},
	} {
		if strings.TrimSpace(f.v) == "" {
			missing = append(missing, f.name)
		}
	}
	if r.PaidAt.IsZero() {
		missing = append(missing, "payment time")
	}
	if len(r.Items) == 0 {
		missing = append(missing, "items")
	}
	if len(missing) > 0 {
		return fmt.Errorf("%w: no %s", ErrInvalid, strings.Join(missing, ", "))
	}
	var sum money.Fen
	for _, it := range r.Items {
		if it.Amount <= 0 || it.Amount > money.MaxFen {
			return fmt.Errorf("%w: item %q amount %s", ErrInvalid, it.Name, it.Amount)
		}
		sum += it.Amount
	}
	if sum != r.Total {
		return fmt.Errorf("%w: items add up to %s, total is %s", ErrInvalid, sum, r.Total)
	}
	if r.Refunded < 0 || r.Refunded > r.Total {
		return fmt.Errorf("%w: refunded %s of %s", ErrInvalid, r.Refunded, r.Total)
	}
	return nil
}

// Verification is what the public verification page may show: the order,
// the amounts and the date, and of the student only the masked name.
type Verification struct {
	SchoolName string
	ReceiptNo  string
	OrderNo    string
	MaskedName string
	Total      money.Fen
	Refunded   money.Fen
	PaidAt     time.Time // in Beijing time
	Channel    string
}

// Verification is the public view of r.
func (r Receipt) Verification() Verification {
	return Verification{
		SchoolName: r.SchoolName, ReceiptNo: r.ReceiptNo, OrderNo: r.OrderNo,
		MaskedName: MaskName(r.StudentName), Total: r.Total, Refunded: r.Refunded,
		PaidAt: r.PaidAt.In(beijing), Channel: r.Channel,
	}
}
