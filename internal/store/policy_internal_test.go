package store

import (
	"reflect"
	"testing"

	"campuspay/internal/billing"
)

// TestParsePolicyCache: a cached policy decodes as the uncached one did,
// over the defaults, and no caller can change what another receives.
func TestParsePolicyCache(t *testing.T) {
	text := `{"initial_password":"654321","lock_minutes":15,"mandatory_first":true,"recommended_banks":["中国银行"],"channels":["unionpay"]}`
	want := billing.DefaultPolicy()
	want.InitialPassword, want.LockMinutes, want.OneProjectPerOrder = "654321", 15, true
	want.RecommendedBanks, want.Channels = []string{"中国银行"}, []string{"unionpay"}
	a, err := parsePolicy(text)
	if err != nil || !reflect.DeepEqual(a, want) {
		t.Fatalf("first parse %+v, %v; want %+v", a, err, want)
	}
	a.RecommendedBanks[0], a.Channels[0] = "changed", "changed"
	b, err := parsePolicy(text)
	if err != nil || !reflect.DeepEqual(b, want) {
		t.Fatalf("cached parse %+v, %v after a caller changed its copy; want %+v", b, err, want)
	}
	if _, err := parsePolicy(`{"lock_minutes":"x"}`); err == nil {
		t.Fatal("a malformed policy decoded")
	}
}
