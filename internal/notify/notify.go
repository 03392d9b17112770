// Package notify is the front door for the channels' server-to-server
// notifications: POST /notify/unionpay and POST /notify/wechat.
package notify

import (
	"io"
	"net/http"

	"campuspay/internal/payment"
)

// maxBody bounds a notification body; real ones are a few KiB.
const maxBody = 64 << 10

// NewHandler mounts the notification endpoints.
func NewHandler(svc *payment.Service) http.Handler {
	mux := http.NewServeMux()
	for _, ch := range []string{payment.UnionPay, payment.WeChat} {
		mux.HandleFunc("POST /notify/"+ch, func(w http.ResponseWriter, r *http.Request) {
			body, err := io.ReadAll(io.LimitReader(r.Body, maxBody+1))
			if err != nil || len(body) > maxBody {
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(http.StatusRequestEntityTooLarge)
				w.Write([]byte(`{"code":"FAIL","message":"body too large"}`))
				return
			}
			n := svc.HandleNotification(r.Context(), ch, r.Header, body, "notify")
			if n.ContentType != "" {
				w.Header().Set("Content-Type", n.ContentType)
			}
			w.WriteHeader(n.Status)
			w.Write(n.Body)
		})
	}
	// Refund results are polled by the worker; their notifications are
	// acknowledged so the channel stops retrying, and change nothing.
	mux.HandleFunc("POST /notify/{channel}/refund", func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, io.LimitReader(r.Body, maxBody))
		if r.PathValue("channel") == payment.WeChat {
			w.WriteHeader(http.StatusNoContent)
			return
		}
		w.Write([]byte("ok"))
	})
	return mux
}
