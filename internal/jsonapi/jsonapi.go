// Package jsonapi is what the JSON front doors (the student and phone API,
// the finance office's API) share: one way to read a request body and one
// way to answer, errors included.
package jsonapi

import (
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"strconv"

	"campuspay/internal/apperr"
)

// MaxBody bounds a request body.
const MaxBody = 64 << 10

// Write answers v as JSON with status; answers are never cached.
func Write(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

// WriteError is the one error answer: {"error":{"code","message",…}} with
// the status apperr.HTTPStatus gives and the error's details (a
// retry_after_seconds also as Retry-After); an internal error is logged
// with its detail under msg and shown as 系统繁忙.
func WriteError(w http.ResponseWriter, log *slog.Logger, msg string, err error) {
	status := apperr.HTTPStatus(err)
	code, text := apperr.Public(err)
	body := map[string]any{"code": code, "message": text}
	if e, ok := apperr.As(err); ok && e.Kind != apperr.Internal {
		for k, v := range e.Details {
			body[k] = v
		}
	}
	if status >= 500 && log != nil {
		log.Error(msg, "code", code, "err", err)
	}
	if ra, ok := body["retry_after_seconds"].(int); ok {
		w.Header().Set("Retry-After", strconv.Itoa(ra))
	}
	Write(w, status, map[string]any{"error": body})
}

// Decode reads one JSON object of at most MaxBody: the content type must
// be JSON, unknown fields and anything after the object are refused.
func Decode(r *http.Request, v any) error {
	if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || mt != "application/json" {
		return apperr.New(apperr.Invalid, "unsupported_media_type", "请求须为 JSON（Content-Type: application/json）")
	}
	dec := json.NewDecoder(io.LimitReader(r.Body, MaxBody))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return apperr.New(apperr.Invalid, apperr.CodeInvalidRequest, "请求格式错误："+err.Error())
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return apperr.New(apperr.Invalid, apperr.CodeInvalidRequest, "请求格式错误：JSON 对象之后还有多余内容")
	}
	return nil
}
