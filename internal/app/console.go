package app

import (
	"context"
	"net/http"
	"time"

	"campuspay/internal/admin"
	"campuspay/internal/adminapi"
	"campuspay/internal/console"
	"campuspay/internal/throttle"
)

// sealEvery is how often the server seals the journal's new entries into
// the platform's audit chain.
const sealEvery = 30 * time.Second

// newAdmin wires the console's services over the store and the student
// login throttle.
func (s *Server) newAdmin() *admin.Service {
	return admin.New(s.Store, admin.Config{Now: s.Store.Now, Locks: s.Auth, Log: s.log, Bindings: s.Store.StudentBindings,
		ChannelLabel: s.Channels.Label,
		Guard:        throttle.NewGuard(throttle.GuardConfig{Now: throttle.Clock(s.Store.Now)})})
}

// mountConsole mounts the finance office's console at /admin/ and its
// JSON API at /api/v1/admin/.
func (s *Server) mountConsole(mux *http.ServeMux) {
	if s.Admin == nil {
		s.Admin = s.newAdmin()
	}
	names := s.Channels.Names()
	mux.Handle("/admin/", counted("console", console.NewHandler(console.Deps{Admin: s.Admin, Reminders: s.Reminders, Channels: names, ChannelLabel: s.Channels.Label,
		TrustedProxies: s.trusted, Log: s.log, Reconcile: s.Reconcile})))
	mux.Handle("/api/v1/admin/", counted("adminapi", adminapi.NewHandler(adminapi.Deps{Admin: s.Admin, Reminders: s.Reminders, Channels: names,
		TrustedProxies: s.trusted, Log: s.log, Reconcile: s.Reconcile})))
}

// runSealer seals the journal into the audit log every sealEvery until
// ctx ends (several servers may run it: each seal advances a guarded
// cursor, so a range is sealed once), and keeps the board's summary up
// to date meanwhile, so that its marks never pile up unseen.
func (s *Server) runSealer(ctx context.Context) {
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		t := time.NewTicker(sealEvery)
		defer t.Stop()
		for {
			if _, err := s.Admin.SealJournal(ctx); err != nil && ctx.Err() == nil {
				s.log.Warn("journal seal", "err", err)
			}
			if err := s.Store.RefreshBoard(ctx, 0); err != nil && ctx.Err() == nil {
				s.log.Warn("board refresh", "err", err)
			}
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
		}
	}()
}
