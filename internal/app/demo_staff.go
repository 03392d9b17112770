package app

import (
	"context"
	"encoding/json"
	"net/http"
	"sort"
	"sync"

	"campuspay/internal/admin"
)

// demoStaff keeps the demo's staff TOTP secrets in memory, so that someone
// trying the console without an authenticator app can read the current
// code at /dev/totp. Only campuspay demo creates them.
type demoStaff struct {
	mu      sync.Mutex
	secrets map[string]string // username → TOTP secret
}

// DemoStaffRoles are the staff campuspay demo creates for its school.
var DemoStaffRoles = []struct {
	Username, Name string
	Role           admin.Role
}{
	{"demo.admin", "演示管理员", admin.RoleAdmin},
	{"demo.clerk", "演示出纳", admin.RoleClerk},
	{"demo.auditor", "演示审计", admin.RoleAuditor},
}

// AddDemoStaff creates the demo school's staff and keeps their
// authenticator secrets for /dev/totp; it returns what would be handed
// over to each.
func (s *Server) AddDemoStaff(ctx context.Context, schoolID int64) ([]admin.Handover, error) {
	var out []admin.Handover
	for _, d := range DemoStaffRoles {
		h, err := s.Admin.CreateStaff(ctx, admin.System("demo"), admin.NewStaff{SchoolID: schoolID, Role: d.Role, Username: d.Username, DisplayName: d.Name})
		if err != nil {
			return nil, err
		}
		s.demo.mu.Lock()
		if s.demo.secrets == nil {
			s.demo.secrets = map[string]string{}
		}
		s.demo.secrets[h.Staff.Username] = h.Enrolment.Secret
		s.demo.mu.Unlock()
		out = append(out, h)
	}
	return out, nil
}

// devTOTP answers the current authenticator code of each demo staff
// member: {"codes":[{"username","code"}]}.
func (s *Server) devTOTP(w http.ResponseWriter, r *http.Request) {
	type code struct {
		Username string `json:"username"`
		Code     string `json:"code"`
	}
	now := s.Store.Now()
	s.demo.mu.Lock()
	codes := []code{}
	for u, sec := range s.demo.secrets {
		codes = append(codes, code{u, admin.TOTPCode(sec, now)})
	}
	s.demo.mu.Unlock()
	sort.Slice(codes, func(i, j int) bool { return codes[i].Username < codes[j].Username })
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	json.NewEncoder(w).Encode(map[string]any{"codes": codes})
}
