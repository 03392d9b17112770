// Package browsertest starts the real Chromium that browser tests drive
// (chromedp), opens tabs with their own cookies, and keeps screenshots in
// test-artifacts/. Only tests import it.
package browsertest

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// Chromium is Debian's Chromium, which CI installs.
const Chromium = "/usr/bin/chromium"

// EnvRequire set to 1 makes a missing Chromium fail a test instead of
// skipping it (CI sets it).
const EnvRequire = "CAMPUSPAY_REQUIRE_BROWSER"

// Artifacts is test-artifacts/<name> at the repository's root, seen from a
// package two folders down (internal/<pkg>), where tests run.
func Artifacts(name string) string { return filepath.Join("..", "..", "test-artifacts", name) }

// Start starts one headless Chromium for a test with a window of w×h,
// runs setup (a device to emulate, say) and returns its context, which
// has no timeout; or it skips the test when Chromium is missing (fails it
// with CAMPUSPAY_REQUIRE_BROWSER=1). It creates the artifacts folder.
func Start(t testing.TB, artifacts string, w, h int, setup ...chromedp.Action[chromedp.Void]) context.Context {
	t.Helper()
	if _, err := os.Stat(Chromium); err != nil {
		if os.Getenv(EnvRequire) == "1" {
			t.Fatalf("%s=1 but %s is missing: %v", EnvRequire, Chromium, err)
		}
		t.Skipf("%s not installed", Chromium)
	}
	if err := os.MkdirAll(artifacts, 0o755); err != nil {
		t.Fatal(err)
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(Chromium), chromedp.NoSandbox, chromedp.Headless,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-gpu", true),
		chromedp.Flag("lang", "zh-CN"),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(w, h),
	)
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	bctx, cancelBrowser := chromedp.NewContext(actx)
	t.Cleanup(func() { cancelBrowser(); cancelAlloc() })
	if err := chromedp.Do(bctx, setup...); err != nil { // starts the browser, without a timeout
		t.Fatal(err)
	}
	return bctx
}

// Tab opens a tab with its own cookies in the browser of bctx, set up by
// setup (a viewport or a device); its context times out after limit.
func Tab(t testing.TB, bctx context.Context, limit time.Duration, setup ...chromedp.Action[chromedp.Void]) context.Context {
	t.Helper()
	ctx, cancel := chromedp.NewContext(bctx, chromedp.WithNewBrowserContext())
	t.Cleanup(cancel)
	if err := chromedp.Do(ctx, setup...); err != nil {
		t.Fatal(err)
	}
	tctx, tcancel := context.WithTimeout(ctx, limit)
	t.Cleanup(tcancel)
	return tctx
}

// Shot saves a full-page PNG screenshot as artifacts/name.png.
func Shot(t testing.TB, ctx context.Context, artifacts, name string) {
	t.Helper()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100)) // quality 100 gives PNG
	if err != nil {
		t.Fatalf("screenshot %s: %v", name, err)
	}
	if err := os.WriteFile(filepath.Join(artifacts, name+".png"), png, 0o644); err != nil {
		t.Fatal(err)
	}
}

// Do runs steps, failing the test with what the page shows when one fails.
func Do(t testing.TB, ctx context.Context, what string, steps ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	if err := chromedp.Do(ctx, steps...); err != nil {
		body, _ := chromedp.Run(ctx, chromedp.Text(chromedp.CSS("body")))
		loc, _ := chromedp.Run(ctx, chromedp.Location())
		t.Fatalf("%s: %v\nat %s:\n%.1500s", what, err, loc, body)
	}
}

// Text is the visible text of the first element sel matches.
func Text(t testing.TB, ctx context.Context, sel string) string {
	t.Helper()
	s, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(sel)))
	if err != nil {
		t.Fatalf("text of %s: %v", sel, err)
	}
	return s
}

// Contains reports every string of want that got lacks.
func Contains(t testing.TB, got string, want ...string) {
	t.Helper()
	for _, w := range want {
		if !strings.Contains(got, w) {
			t.Errorf("page lacks %q in:\n%.2500s", w, got)
		}
	}
}
