package app

import (
	"net/http"

	"campuspay/internal/web"
)

// mountWeb mounts the student portal under /s/{school}/ and the home page
// at "/" that links to every school's portal (and the sandbox when on).
func (s *Server) mountWeb(mux *http.ServeMux) {
	h := counted("web", web.NewHandler(web.Deps{Store: s.Store, Auth: s.Auth, Payments: s.Payments, Sandbox: s.Sandbox, Log: s.log}))
	mux.Handle("/s/", h)
	mux.Handle("GET /{$}", h)
}
