package app

import (
	"net/http"

	"campuspay/internal/web"
)

// mountWeb mounts the student portal under /s/{school}/, the home page at
// "/" that links to every school's portal (and the sandbox when on), and
// the portal's page-not-found for any path nothing else serves.
func (s *Server) mountWeb(mux *http.ServeMux) {
	d := web.Deps{Auth: s.Auth, Payments: s.Payments, Schools: s.Schools, TrustedProxies: s.trusted, Log: s.log,
		PlatformName: s.cfg.PlatformName, Receipts: s.Receipts, Reminders: s.Reminders}
	if s.Sandbox != nil {
		d.Sandbox, d.PayerPage = true, s.Sandbox.WeChat.PayURL
	}
	h := counted("web", web.NewHandler(d))
	mux.Handle("/s/", h)
	// The home page, and the page-not-found of every path no front door
	// claims (each of those has its own prefix, which wins).
	mux.Handle("/", h)
}
