package store

import (
	"context"
	"encoding/hex"
	"fmt"
)

// PlatformKey returns the key stored under name, storing fresh first when
// there is none: whichever server starts first makes the deployment's key.
func (s *Store) PlatformKey(ctx context.Context, name string, fresh []byte) ([]byte, error) {
	if _, err := s.exec(ctx, "platform_key_insert", name, hex.EncodeToString(fresh), ms(s.clock())); err != nil {
		return nil, err
	}
	var v string
	if err := s.readRow(ctx, "platform_key_get", []any{name}, &v); err != nil {
		return nil, err
	}
	k, err := hex.DecodeString(v)
	if err != nil {
		return nil, fmt.Errorf("store: platform key %s: %w", name, err)
	}
	return k, nil
}
