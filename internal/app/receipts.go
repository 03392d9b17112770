package app

import (
	"context"
	"fmt"
	"net/http"
	"os"

	"campuspay/internal/receipts"
	"campuspay/internal/remind"
)

// EnvReceiptKey names the variable that may hold the key of receipts'
// verification codes (at least 16 bytes, the same on every server).
// Without it the platform makes one on first start and keeps it in the
// database. Receipts printed under one key fail verification under
// another: set it before the first receipt, or never.
const EnvReceiptKey = "CAMPUSPAY_RECEIPT_KEY"

// setupReceipts builds the receipts (缴费凭证) and the payment reminders
// (催缴提醒, through the SMS provider of the phone app when there is one).
func (s *Server) setupReceipts(ctx context.Context) error {
	key := []byte(os.Getenv(EnvReceiptKey))
	if len(key) > 0 && len(key) < 16 {
		return fmt.Errorf("%s must be at least 16 bytes", EnvReceiptKey)
	}
	rs, err := receipts.New(ctx, s.Store, receipts.Config{PublicURL: s.URL, PlatformName: s.cfg.PlatformName, Key: key, ChannelLabel: s.Channels.Label,
		TrustedProxies: s.trusted, Now: s.Store.Now, Log: s.log})
	if err != nil {
		return err
	}
	s.Receipts = rs
	s.Reminders = remind.New(s.Store, remind.Config{Sender: s.SMS, Now: s.Store.Now, Log: s.log})
	return nil
}

// mountReceipts mounts the public verification page that receipts' QR
// codes open (no login).
func (s *Server) mountReceipts(mux *http.ServeMux) {
	mux.Handle(receipts.VerifyPath, counted("receipts", s.Receipts.Handler()))
}
