package jsonapi

import (
	"errors"
	"net/http/httptest"
	"strings"
	"testing"

	"campuspay/internal/apperr"
)

func TestDecode(t *testing.T) {
	type body struct {
		A int `json:"a"`
	}
	for _, c := range []struct {
		name, ctype, in, code string
	}{
		{"one object", "application/json", `{"a":1}`, ""},
		{"with a charset", "application/json; charset=utf-8", `{"a":1}`, ""},
		{"text/plain", "text/plain", `{"a":1}`, "unsupported_media_type"},
		{"an unknown field", "application/json", `{"a":1,"b":2}`, apperr.CodeInvalidRequest},
		{"trailing garbage", "application/json", `{"a":1} x`, apperr.CodeInvalidRequest},
		{"two objects", "application/json", `{"a":1}{"a":2}`, apperr.CodeInvalidRequest},
		{"too long", "application/json", `{"a":1` + strings.Repeat(" ", MaxBody) + `}`, apperr.CodeInvalidRequest},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := httptest.NewRequest("POST", "/", strings.NewReader(c.in))
			r.Header.Set("Content-Type", c.ctype)
			var b body
			err := Decode(r, &b)
			if got := apperr.CodeOf(err); (c.code == "" && err != nil) || (c.code != "" && got != c.code) {
				t.Fatalf("err %v (code %q), want code %q", err, got, c.code)
			}
		})
	}
}

func TestWriteError(t *testing.T) {
	w := httptest.NewRecorder()
	WriteError(w, nil, "test", apperr.New(apperr.TooMany, apperr.CodeTooManyRequests, "请稍后再试").With("retry_after_seconds", 7))
	if w.Code != 429 || w.Header().Get("Retry-After") != "7" || !strings.Contains(w.Body.String(), `"code":"too_many_requests"`) {
		t.Fatalf("%d %v %s", w.Code, w.Header(), w.Body.String())
	}
	w = httptest.NewRecorder()
	WriteError(w, nil, "test", errors.New("db password=secret"))
	if w.Code != 500 || strings.Contains(w.Body.String(), "secret") {
		t.Fatalf("an internal error leaked: %d %s", w.Code, w.Body.String())
	}
}
