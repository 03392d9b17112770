// Package apptest helps tests boot whole campuspay servers: one directory
// of sandbox keys per test binary, made once (RSA keys are slow to make)
// and shared by every server and sandbox the package's tests start.
package apptest

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"campuspay/internal/sandbox"
)

var keysDir string

// Main makes the keys, runs the tests and removes the keys. Use it as a
// package's TestMain: func TestMain(m *testing.M) { apptest.Main(m) }.
func Main(m *testing.M) {
	tmp, err := os.MkdirTemp("", "campuspay-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	keysDir = filepath.Join(tmp, "sandbox-keys")
	if _, err := sandbox.LoadOrCreateKeys(keysDir); err != nil {
		fmt.Fprintln(os.Stderr, "sandbox keys:", err)
		os.RemoveAll(tmp)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(tmp)
	os.Exit(code)
}

// KeysDir is the directory of sandbox keys Main made.
func KeysDir() string {
	if keysDir == "" {
		panic("apptest: KeysDir called without apptest.Main as TestMain")
	}
	return keysDir
}
