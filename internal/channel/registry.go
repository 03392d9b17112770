// Package channel keeps the payment channel adapters configured for each
// school's merchant accounts, finds the one adapter a notification is for,
// and loads merchant settings from configuration.
package channel

import (
	"fmt"
	"sync"

	"campuspay/internal/apperr"
	"campuspay/internal/payment"
)

// Registry maps (school, channel) to an adapter, with a platform-wide
// default merchant per channel for schools without their own, and routes
// notifications by the routing key each adapter declares.
type Registry struct {
	mu       sync.RWMutex
	names    []string // in the order first registered: display order
	def      map[string]payment.Channel
	bySchool map[int64]map[string]payment.Channel
	byRoute  map[string]map[string]payment.Channel // channel → route → adapter
}

var _ payment.Channels = (*Registry)(nil)

// NewRegistry returns an empty registry.
func NewRegistry() *Registry {
	return &Registry{def: map[string]payment.Channel{}, bySchool: map[int64]map[string]payment.Channel{},
		byRoute: map[string]map[string]payment.Channel{}}
}

func (r *Registry) add(ch payment.Channel) {
	name := ch.Info().Name
	if r.byRoute[name] == nil {
		r.byRoute[name] = map[string]payment.Channel{}
		r.names = append(r.names, name)
	}
	r.byRoute[name][ch.Route()] = ch
}

// SetDefault sets the adapter used by schools without their own merchant.
func (r *Registry) SetDefault(ch payment.Channel) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.add(ch)
	r.def[ch.Info().Name] = ch
}

// SetSchool sets a school's own merchant adapter.
func (r *Registry) SetSchool(schoolID int64, ch payment.Channel) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.add(ch)
	if r.bySchool[schoolID] == nil {
		r.bySchool[schoolID] = map[string]payment.Channel{}
	}
	r.bySchool[schoolID][ch.Info().Name] = ch
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
	return nil, apperr.New(apperr.Invalid, payment.CodeChannelNotConfigured, "本校未开通该支付方式").
		Wrap(fmt.Errorf("no %s merchant for school %d", name, schoolID))
}

// ForNotification finds the one adapter whose routing key the
// notification carries, so that it alone verifies it.
func (r *Registry) ForNotification(name string, header map[string][]string, body []byte) (payment.Channel, error) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	routes, ok := r.byRoute[name]
	if !ok {
		return nil, apperr.New(apperr.NotFound, apperr.CodeNotFound, "")
	}
	// Every adapter of a channel reads the key the same way.
	for _, ch := range routes {
		if a, ok := routes[ch.NotificationRoute(header, body)]; ok {
			return a, nil
		}
		break
	}
	return nil, apperr.New(apperr.Invalid, payment.CodeNotificationRefused, "通知的商户不是本平台的商户").
		Wrap(fmt.Errorf("%w: no %s merchant for the notification's routing key", payment.ErrBadNotification, name))
}

// Names lists the configured channels in display order.
func (r *Registry) Names() []string {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return append([]string(nil), r.names...)
}

// Label is a channel's name as people read it (its adapter's Info), or
// name itself for a channel not configured here.
func (r *Registry) Label(name string) string {
	if ch := r.Any(name); ch != nil {
		if l := ch.Info().Label; l != "" {
			return l
		}
	}
	return name
}

// Any is some adapter of a channel (for answers that are the same for
// every merchant of it), or nil.
func (r *Registry) Any(name string) payment.Channel {
	r.mu.RLock()
	defer r.mu.RUnlock()
	for _, ch := range r.byRoute[name] {
		return ch
	}
	return nil
}
