// Package channel keeps the payment channel adapters configured for each
// school's merchant accounts, and loads them from configuration.
package channel

import (
	"fmt"
	"sync"

	"campuspay/internal/apperr"
	"campuspay/internal/payment"
)

// Registry maps (school, channel) to an adapter, with a platform-wide
// default merchant per channel for schools without their own.
type Registry struct {
	mu       sync.RWMutex
	def      map[string]payment.Channel
	bySchool map[int64]map[string]payment.Channel
}

var _ payment.Channels = (*Registry)(nil)

// NewRegistry returns an empty registry.
func NewRegistry() *Registry {
	return &Registry{def: map[string]payment.Channel{}, bySchool: map[int64]map[string]payment.Channel{}}
}

// SetDefault sets the adapter used by schools without their own merchant.
func (r *Registry) SetDefault(ch payment.Channel) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.def[ch.Name()] = ch
}

// SetSchool sets a school's own merchant adapter.
func (r *Registry) SetSchool(schoolID int64, ch payment.Channel) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.bySchool[schoolID] == nil {
		r.bySchool[schoolID] = map[string]payment.Channel{}
	}
	r.bySchool[schoolID][ch.Name()] = ch
}

// For finds the adapter for a school's payments on a channel.
func (r *Registry) For(schoolID int64, name string) (payment.Channel, error) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	if ch, ok := r.bySchool[schoolID][name]; ok {
		return ch, nil
	}
	if ch, ok := r.def[name]; ok {
		return ch, nil
	}
	return nil, apperr.New(apperr.Invalid, "channel_not_configured", "本校未配置该支付方式").Wrap(fmt.Errorf("no %s merchant for school %d", name, schoolID))
}

// All lists every distinct adapter of a channel.
func (r *Registry) All(name string) []payment.Channel {
	r.mu.RLock()
	defer r.mu.RUnlock()
	seen := map[payment.Channel]bool{}
	var out []payment.Channel
	add := func(ch payment.Channel) {
		if ch != nil && !seen[ch] {
			seen[ch] = true
			out = append(out, ch)
		}
	}
	add(r.def[name])
	for _, m := range r.bySchool {
		add(m[name])
	}
	return out
}
