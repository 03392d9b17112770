package mobile

import (
	"net/http"

	"campuspay/internal/account"
	"campuspay/internal/billing"
	"campuspay/internal/sms"
)

// ---- 我的 ----

type mePage struct {
	layout
	PhoneMasked, Initial, SchoolName string
	Students                         int
}

func (h *handler) mePage(r *http.Request, p account.Principal, title, back string) (mePage, error) {
	pg := mePage{layout: layoutOf(&p, title, back, "me"), PhoneMasked: billing.MaskPhone(p.Account.Phone), Initial: p.Account.Phone[len(p.Account.Phone)-1:]}
	sc, ok, err := h.Accounts.School(r.Context(), p)
	if err != nil {
		return pg, err
	}
	if ok {
		pg.SchoolName = sc.Name
	}
	bs, err := h.Accounts.Bindings(r.Context(), p)
	pg.Students = len(bs)
	return pg, err
}

func (h *handler) me(w http.ResponseWriter, r *http.Request, p account.Principal) {
	pg, err := h.mePage(r, p, "我的", "")
	if err != nil {
		h.fail(w, r, &p, err)
		return
	}
	switch r.URL.Query().Get("done") {
	case "password":
		pg.Notice = "密码设置成功，请牢记新密码。"
	case "phone":
		pg.Notice = "手机号修改成功，其他设备需要重新登录。"
	}
	h.render(w, http.StatusOK, "me", pg)
}

func (h *handler) profile(w http.ResponseWriter, r *http.Request, p account.Principal) {
	pg, err := h.mePage(r, p, "个人资料", "/m/me")
	if err != nil {
		h.fail(w, r, &p, err)
		return
	}
	h.render(w, http.StatusOK, "profile", pg)
}

// ---- 交易记录: every bound student's orders ----

type recordsStudent struct {
	Name, No string
	Orders   []orderView
}

type recordsPage struct {
	layout
	Students []recordsStudent
}

func (h *handler) records(w http.ResponseWriter, r *http.Request, p account.Principal) {
	bs, err := h.Accounts.Bindings(r.Context(), p)
	if err != nil {
		h.fail(w, r, &p, err)
		return
	}
	pg := recordsPage{layout: layoutOf(&p, "交易记录", "/m/me", "me")}
	for _, b := range bs {
		os, err := h.Payments.StudentOrders(r.Context(), b.Student.ID)
		if err != nil {
			h.fail(w, r, &p, err)
			return
		}
		rs := recordsStudent{Name: b.Student.Name, No: b.Student.StudentNo}
		for _, o := range os {
			rs.Orders = append(rs.Orders, h.orderViewOf(b, o))
		}
		pg.Students = append(pg.Students, rs)
	}
	h.render(w, http.StatusOK, "records", pg)
}

// ---- 个人资料 → 手机号 (R11) ----

type phonePage struct {
	layout
	PhoneMasked string
	NewPhone    string
	Wait        int
}

func (h *handler) newPhonePage(p account.Principal) phonePage {
	return phonePage{layout: layoutOf(&p, "更换手机号", "/m/me/profile", ""), PhoneMasked: billing.MaskPhone(p.Account.Phone)}
}

func (h *handler) phonePage(w http.ResponseWriter, r *http.Request, p account.Principal) {
	h.render(w, http.StatusOK, "phone", h.newPhonePage(p))
}

// phoneSMS is 免费获取 for the new phone: a change_phone code good for
// this account only.
func (h *handler) phoneSMS(w http.ResponseWriter, r *http.Request, p account.Principal) {
	pg := h.newPhonePage(p)
	pg.NewPhone = r.PostFormValue("new_phone")
	if n, err := sms.NormalizePhone(pg.NewPhone); err == nil {
		pg.NewPhone = n
	}
	wait, err := h.Accounts.SendCode(r.Context(), account.SendRequest{Phone: pg.NewPhone, Purpose: sms.PurposeChangePhone, Client: h.client(r), For: &p})
	status := http.StatusOK
	if err != nil {
		var v errorView
		status, v = h.viewOf(r, err)
		pg.Error, pg.Wait = &v, retryAfter(err)
	} else {
		pg.Notice = "验证码已发送至 " + billing.MaskPhone(pg.NewPhone) + "，5 分钟内有效"
		pg.Wait = sms.Seconds(wait)
	}
	h.render(w, status, "phone", pg)
}

// changePhone is 完成: every session of the account ends; this browser
// gets the new token.
func (h *handler) changePhone(w http.ResponseWriter, r *http.Request, p account.Principal) {
	newPhone := r.PostFormValue("new_phone")
	tok, err := h.Accounts.ChangePhone(r.Context(), p, newPhone, r.PostFormValue("code"), h.client(r))
	if err != nil {
		status, v := h.viewOf(r, err)
		pg := h.newPhonePage(p)
		pg.NewPhone, pg.Error = newPhone, &v
		h.render(w, status, "phone", pg)
		return
	}
	h.setSession(w, r, tok)
	http.Redirect(w, r, "/m/me?done=phone", http.StatusSeeOther)
}
