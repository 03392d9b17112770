package app

import "net/http"

// mountWeb mounts the student portal (filled in by the web front door).
func (s *Server) mountWeb(mux *http.ServeMux) {}
