package app

import (
	"net/http"

	"campuspay/internal/web"
)

// mountWeb mounts the student portal under /s/{school}/ and the home page
// at "/" that links to every school's portal (and the sandbox when on).
func (s *Server) mountWeb(mux *http.ServeMux) {
	d := web.Deps{Auth: s.Auth, Payments: s.Payments, Schools: s.Schools, TrustedProxies: s.trusted, Log: s.log}
	if s.Sandbox != nil {
		d.Sandbox, d.PayerPage = true, s.Sandbox.WeChat.PayURL
	}
	h := counted("web", web.NewHandler(d))
	mux.Handle("/s/", h)
	mux.Handle("GET /{$}", h)
}
