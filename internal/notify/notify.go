// Package notify is the front door for the channels' server-to-server
// notifications: POST /notify/{channel} for payments and
// POST /notify/{channel}/refund for refund results. It knows no channel
// by name: the payment service routes each notification to its adapter.
package notify

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"

	"campuspay/internal/apperr"
	"campuspay/internal/payment"
)

// maxBody bounds a notification body; real ones are a few KiB.
const maxBody = 64 << 10

// Service is what the notifications need.
type Service interface {
	HandleNotification(ctx context.Context, channel string, header map[string][]string, body []byte, source string) (payment.Notified, error)
	RefundNotificationAck(channel string) (status int, contentType string, body []byte, err error)
}

var _ Service = (*payment.Service)(nil)

// NewHandler mounts the notification endpoints.
func NewHandler(svc Service, log *slog.Logger) http.Handler {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /notify/{channel}", func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(io.LimitReader(r.Body, maxBody+1))
		if err != nil || len(body) > maxBody {
			fail(w, log, apperr.New(apperr.TooMany, "body_too_large", "body too large"), http.StatusRequestEntityTooLarge)
			return
		}
		n, err := svc.HandleNotification(r.Context(), r.PathValue("channel"), r.Header, body, "notify")
		if err != nil {
			fail(w, log, err, 0)
			return
		}
		reply(w, n.AckStatus, n.AckContentType, n.AckBody)
	})
	// Refund results are polled by the worker; their notifications are
	// acknowledged so the channel stops retrying, and change nothing.
	mux.HandleFunc("POST /notify/{channel}/refund", func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, io.LimitReader(r.Body, maxBody))
		status, ctype, body, err := svc.RefundNotificationAck(r.PathValue("channel"))
		if err != nil {
			fail(w, log, err, 0)
			return
		}
		reply(w, status, ctype, body)
	})
	return mux
}

func reply(w http.ResponseWriter, status int, ctype string, body []byte) {
	if ctype != "" {
		w.Header().Set("Content-Type", ctype)
	}
	w.WriteHeader(status)
	w.Write(body)
}

// fail is the notifications' one error answer: a refusal is 4xx (the
// notification changed nothing), an internal failure 5xx (the channel
// retries), with a body in the shape channels expect of a failure.
func fail(w http.ResponseWriter, log *slog.Logger, err error, status int) {
	if status == 0 {
		status = apperr.HTTPStatus(err)
		if status == http.StatusUnprocessableEntity {
			status = http.StatusBadRequest
		}
	}
	code, msg := apperr.Public(err)
	if status >= 500 {
		log.Error("notification not applied", "err", err)
		msg = "retry later"
	}
	b, _ := json.Marshal(struct {
		Code    string `json:"code"`
		Message string `json:"message"`
		Reason  string `json:"reason,omitempty"`
	}{"FAIL", msg, code})
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	w.Write(b)
}
