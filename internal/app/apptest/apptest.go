// Package apptest helps tests boot whole campuspay servers: one directory
// of sandbox keys per test binary, made once (RSA keys are slow to make)
// and shared by every server and sandbox the package's tests start.
package apptest

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"testing"

	"campuspay/internal/app"
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

// Demo starts the whole server with the sandbox on a fresh SQLite file
// loaded with the demo school. The worker is off, so the books move only
// when a test moves them.
func Demo(t testing.TB) *app.Server {
	t.Helper()
	ctx := context.Background()
	s, err := app.Start(ctx, app.Config{Addr: "127.0.0.1:0", DB: "sqlite:" + filepath.Join(t.TempDir(), "campuspay.db"),
		Sandbox: true, SandboxKeys: KeysDir(), TimeScale: 0.001, NoWorker: true, Log: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatalf("app.Start: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	if err := app.LoadDemo(ctx, s.Store, io.Discard); err != nil {
		t.Fatalf("LoadDemo: %v", err)
	}
	return s
}
