// Package mobile is the phone app as a mobile web app at /m/.
package mobile

import (
	"context"
	"log/slog"
	"net/http"
	"net/netip"
	"time"

	"campuspay/internal/account"
	"campuspay/internal/billing"
	"campuspay/internal/payment"
)

// Deps are the services the mobile app stands on.
type Deps struct {
	Accounts       *account.Service
	Payments       *payment.Service
	Schools        *billing.Directory
	TrustedProxies []netip.Prefix
	Log            *slog.Logger
	Now            func() time.Time
}

// NewHandler builds the mobile app.
func NewHandler(d Deps) http.Handler { return http.NotFoundHandler() }

var _ = context.Background
