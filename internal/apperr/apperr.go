// Package apperr is the one error type of campuspay: a stable machine code,
// a message safe to show a person (Simplified Chinese), and the kind that
// decides the HTTP status. Front doors map it in one place each.
package apperr

import (
	"errors"
	"fmt"
)

// Kind classifies an error for transport mapping.
type Kind int

// Kinds of error. Internal errors are logged with detail and shown generically.
const (
	Internal     Kind = iota // a bug or an outage: 500
	Invalid                  // the input is wrong: 422
	NotFound                 // 404
	Conflict                 // state forbids it now (locks, duplicates): 409
	Unauthorized             // who are you: 401
	Forbidden                // not allowed: 403
	TooMany                  // rate limited: 429
	BadGateway               // a payment channel failed: 502
)

// Codes every front door knows. Domain packages declare their own
// (billing.CodeMandatoryFirst, payment.CodeOrderNotFound, …).
const (
	CodeInternal        = "internal"
	CodeNotFound        = "not_found"
	CodeInvalidRequest  = "invalid_request"
	CodeTooManyRequests = "too_many_requests"
)

// Busy is what a person reads when the platform itself failed.
const Busy = "系统繁忙，请稍后再试"

// Error carries a stable Code (e.g. "mandatory_first"), a user-safe Message,
// optional Details for the client, and the wrapped cause for logs.
type Error struct {
	Kind    Kind
	Code    string
	Message string
	Details map[string]any
	Err     error
}

func (e *Error) Error() string {
	if e.Err != nil {
		return fmt.Sprintf("%s: %s: %v", e.Code, e.Message, e.Err)
	}
	return e.Code + ": " + e.Message
}

func (e *Error) Unwrap() error { return e.Err }

// New builds an error of the given kind and code.
func New(kind Kind, code, message string) *Error {
	return &Error{Kind: kind, Code: code, Message: message}
}

// With returns a copy carrying one more detail.
func (e *Error) With(key string, v any) *Error {
	c := *e
	c.Details = map[string]any{}
	for k, v := range e.Details {
		c.Details[k] = v
	}
	c.Details[key] = v
	return &c
}

// Wrap attaches a cause.
func (e *Error) Wrap(err error) *Error {
	c := *e
	c.Err = err
	return &c
}

// As extracts an *Error from err's chain.
func As(err error) (*Error, bool) {
	var e *Error
	ok := errors.As(err, &e)
	return e, ok
}

// CodeOf returns err's stable code, or "internal".
func CodeOf(err error) string {
	if e, ok := As(err); ok {
		return e.Code
	}
	return CodeInternal
}

// defaultMessages are said when an error carries no message of its own.
var defaultMessages = map[Kind]string{
	Invalid: "请求有误", NotFound: "未找到", Conflict: "操作冲突，请刷新后重试", Unauthorized: "请先登录",
	Forbidden: "无权进行此操作", TooMany: "请求过于频繁，请稍后再试", BadGateway: "支付渠道暂时不可用，请稍后再试",
}

// Internalf wraps an unexpected failure.
func Internalf(format string, args ...any) *Error {
	return &Error{Kind: Internal, Code: CodeInternal, Message: Busy, Err: fmt.Errorf(format, args...)}
}

// HTTPStatus is the one mapping from an error to an HTTP status code.
func HTTPStatus(err error) int {
	e, ok := As(err)
	if !ok {
		return 500
	}
	switch e.Kind {
	case Invalid:
		return 422
	case NotFound:
		return 404
	case Conflict:
		return 409
	case Unauthorized:
		return 401
	case Forbidden:
		return 403
	case TooMany:
		return 429
	case BadGateway:
		return 502
	}
	return 500
}

// Public returns what may be shown to a person: the error's own message,
// or a generic one for internal errors.
func Public(err error) (code, message string) {
	if e, ok := As(err); ok && e.Kind != Internal {
		if e.Message == "" {
			return e.Code, defaultMessages[e.Kind]
		}
		return e.Code, e.Message
	}
	return CodeInternal, Busy
}
