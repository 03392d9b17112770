package web

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"strings"
)

// flashCookie carries the answer to a form post across its redirect
// (post/redirect/get): the page the browser then GETs shows it once, so
// Back and reload never post the form again.
const flashCookie = "campuspay_flash"

// flash is what a refused form post leaves for the page it redirects to.
type flash struct {
	Status    int    `json:"s"`
	Message   string `json:"m"`
	Hint      string `json:"h,omitempty"`
	StudentNo string `json:"n,omitempty"` // the login form's student number, typed again for the student
}

// maxFlash bounds a flash cookie's value; a longer one is not ours.
const maxFlash = 2048

// sealFlash encodes f with an HMAC under the server's secret, so that a
// cookie another site planted cannot put words on the portal's pages.
func (h *handler) sealFlash(f flash) string {
	b, _ := json.Marshal(f)
	body := base64.RawURLEncoding.EncodeToString(b)
	return body + "." + h.flashMAC(body)
}

func (h *handler) flashMAC(body string) string {
	m := hmac.New(sha256.New, h.Secret)
	m.Write([]byte("flash\x00" + body))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// openFlash decodes a sealed flash; ok is false for anything else.
func (h *handler) openFlash(v string) (flash, bool) {
	var f flash
	if len(v) > maxFlash {
		return f, false
	}
	body, mac, found := strings.Cut(v, ".")
	if !found || !hmac.Equal([]byte(mac), []byte(h.flashMAC(body))) {
		return f, false
	}
	b, err := base64.RawURLEncoding.DecodeString(body)
	if err != nil || json.Unmarshal(b, &f) != nil || f.Message == "" {
		return flash{}, false
	}
	if f.Status < 400 || f.Status > 599 {
		f.Status = http.StatusUnprocessableEntity
	}
	return f, true
}

// setFlash leaves f for the next page of the school's portal, for a minute.
func (h *handler) setFlash(w http.ResponseWriter, r *http.Request, school string, f flash) {
	setCookie(w, r, flashCookie, h.sealFlash(f), school, http.SameSiteLaxMode, 60)
}

// takeFlash returns the flash left for this page, once, and clears it.
func (h *handler) takeFlash(w http.ResponseWriter, r *http.Request, school string) (flash, bool) {
	v := cookieValue(r, flashCookie)
	if v == "" {
		return flash{}, false
	}
	setCookie(w, r, flashCookie, "", school, http.SameSiteLaxMode, -1)
	return h.openFlash(v)
}

// redirectWithError answers a refused form post: its error as a flash and
// a 303 to the page that shows it.
func (h *handler) redirectWithError(w http.ResponseWriter, r *http.Request, school string, err error, to string) {
	status, v := h.viewOf(r, err)
	h.setFlash(w, r, school, flash{Status: status, Message: v.Message, Hint: v.Hint})
	http.Redirect(w, r, to, http.StatusSeeOther)
}
