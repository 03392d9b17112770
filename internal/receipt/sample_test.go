package receipt

import (
	"time"
)

// sampleReceipt is a freshman's paid order as the portal shows it.
func sampleReceipt() Receipt {
	paidAt := time.Date(2025, 9, 1, 12, 0, 3, 0, beijing)
	r := Receipt{
		PlatformName: "校园统一缴费平台",
		SchoolName:   "西南示范大学",
		ReceiptNo:    Number("CP20250901A1B2C3D4"),
		OrderNo:      "CP20250901A1B2C3D4",
		StudentNo:    "2025010203",
		StudentName:  "欧阳娜娜",
		Grade:        "2025级",
		Major:        "计算机科学与技术",
		Class:        "计科2502班",
		Items: []Item{
			{Project: "2025学年学费住宿费", Name: "学费", Amount: 580000},
			{Project: "2025学年学费住宿费", Name: "住宿费", Amount: 120000},
			{Project: "2025学年学费住宿费", Name: "军训服装费", Amount: 23005},
		},
		Total:      723005,
		Channel:    "银联在线",
		MaskedCard: "6216 **** **** 0018",
		PaidAt:     paidAt,
	}
	r.VerifyCode = Code(testSecret, r.OrderNo, r.Total, r.PaidAt)
	r.VerifyURL = "https://pay.example.edu.cn/receipts/verify?no=" + r.OrderNo + "&code=" + r.VerifyCode
	return r
}
