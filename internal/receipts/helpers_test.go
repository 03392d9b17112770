package receipts_test

import (
	"bytes"
	"context"
	"encoding/json"
	"image"
	_ "image/png"
	"io"
	"log/slog"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/makiuchi-d/gozxing"
	"github.com/makiuchi-d/gozxing/qrcode"

	"campuspay/demo"
	"campuspay/internal/app"
	"campuspay/internal/app/apptest"
	"campuspay/internal/store"
	"campuspay/internal/store/storetest"
)

func TestMain(m *testing.M) { apptest.Main(m) }

var ctx = context.Background()

// boot starts the whole server with the sandbox on a fresh database of
// dialect, loaded with the demo school.
func boot(t *testing.T, d store.Dialect) *app.Server {
	t.Helper()
	dsn := "sqlite:" + filepath.Join(t.TempDir(), "campuspay.db")
	if d == store.Postgres {
		dsn = storetest.PostgresDSN(t)
	}
	s, err := app.Start(ctx, app.Config{Addr: "127.0.0.1:0", DB: dsn, Sandbox: true, SandboxKeys: apptest.KeysDir(),
		TimeScale: 0.001, NoWorker: true, Log: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatalf("app.Start: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	if err := app.LoadDemo(ctx, s.Store, io.Discard); err != nil {
		t.Fatalf("LoadDemo: %v", err)
	}
	return s
}

// call makes a JSON API call and decodes the answer into out (when not nil).
func call(t *testing.T, base, method, path string, in any, token string, out any) (int, []byte, http.Header) {
	t.Helper()
	var body io.Reader
	if in != nil {
		b, _ := json.Marshal(in)
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, base+path, body)
	if err != nil {
		t.Fatal(err)
	}
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if out != nil && len(b) > 0 {
		if err := json.Unmarshal(b, out); err != nil {
			t.Fatalf("%s %s: %v in %s", method, path, err, b)
		}
	}
	return resp.StatusCode, b, resp.Header
}

// login logs a demo student in through the API (setting a password of
// their own the first time) and returns the token.
func login(t *testing.T, base, no string) string {
	t.Helper()
	var lr struct {
		Token              string `json:"token"`
		MustChangePassword bool   `json:"must_change_password"`
	}
	if st, b, _ := call(t, base, "POST", "/api/v1/auth/student-login", map[string]string{"school_code": app.DemoSchool, "student_no": no, "password": "111111"}, "", &lr); st != 200 {
		t.Fatalf("student login: %d %s", st, b)
	}
	if lr.MustChangePassword {
		if st, b, _ := call(t, base, "POST", "/api/v1/me/password", map[string]string{"old_password": "111111", "new_password": "campus2026pay",
			"id_card_last6": demo.IDLast6(no)}, lr.Token, nil); st != 200 {
			t.Fatalf("password: %d %s", st, b)
		}
		call(t, base, "POST", "/api/v1/auth/student-login", map[string]string{"school_code": app.DemoSchool, "student_no": no, "password": "campus2026pay"}, "", &lr)
	}
	return lr.Token
}

// payMandatory pays a student's mandatory items of the first project by
// WeChat through the sandbox's payer helper, waits until the order is
// paid, and returns its number.
func payMandatory(t *testing.T, base, token string) string {
	t.Helper()
	var bills struct {
		Projects []struct {
			Items []struct {
				ID        int64 `json:"id"`
				Mandatory bool  `json:"mandatory"`
				Status    string
			} `json:"items"`
		} `json:"projects"`
	}
	if st, b, _ := call(t, base, "GET", "/api/v1/bills", nil, token, &bills); st != 200 {
		t.Fatalf("bills: %d %s", st, b)
	}
	var ids []int64
	for _, it := range bills.Projects[0].Items {
		if it.Mandatory && it.Status == "unpaid" {
			ids = append(ids, it.ID)
		}
	}
	var o struct {
		OrderNo string `json:"order_no"`
		Pay     struct {
			CodeURL string `json:"code_url"`
		} `json:"pay"`
	}
	if st, b, _ := call(t, base, "POST", "/api/v1/orders", map[string]any{"item_ids": ids, "channel": "wechat"}, token, &o); st != 201 {
		t.Fatalf("order: %d %s", st, b)
	}
	if st, b, _ := call(t, base, "POST", "/sandbox/test-helpers/wechat/pay", map[string]string{"code_url": o.Pay.CodeURL}, "", nil); st != 200 {
		t.Fatalf("pay: %d %s", st, b)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		var got struct{ Status string }
		call(t, base, "GET", "/api/v1/orders/"+o.OrderNo+"?wait_seconds=5", nil, token, &got)
		if got.Status == "paid" {
			return o.OrderNo
		}
		if time.Now().After(deadline) {
			t.Fatalf("order %s still %s", o.OrderNo, got.Status)
		}
	}
}

// pdfText is the text pdftotext reads from a PDF, without spaces and
// line breaks (which depend on the layout, not on the content).
func pdfText(t *testing.T, pdf []byte) string {
	t.Helper()
	path := writeFile(t, "receipt.pdf", pdf)
	out, err := exec.Command("pdftotext", "-enc", "UTF-8", path, "-").Output()
	if err != nil {
		t.Fatalf("pdftotext (install poppler-utils): %v", err)
	}
	return strings.Join(strings.Fields(string(out)), "")
}

// pdfQR renders the PDF's first page as it prints (pdftoppm, 150 dpi) and
// decodes the QR code on it with gozxing.
func pdfQR(t *testing.T, pdf []byte) string {
	t.Helper()
	path := writeFile(t, "receipt.pdf", pdf)
	prefix := filepath.Join(filepath.Dir(path), "page")
	if out, err := exec.Command("pdftoppm", "-r", "150", "-png", "-singlefile", path, prefix).CombinedOutput(); err != nil {
		t.Fatalf("pdftoppm (install poppler-utils): %v %s", err, out)
	}
	png, err := os.ReadFile(prefix + ".png")
	if err != nil {
		t.Fatal(err)
	}
	return decodeQR(t, png)
}

// decodeQR reads the QR code in a PNG with gozxing, the Go port of ZXing.
func decodeQR(t *testing.T, png []byte) string {
	t.Helper()
	img, _, err := image.Decode(bytes.NewReader(png))
	if err != nil {
		t.Fatal(err)
	}
	bmp, err := gozxing.NewBinaryBitmapFromImage(img)
	if err != nil {
		t.Fatal(err)
	}
	res, err := qrcode.NewQRCodeReader().Decode(bmp, map[gozxing.DecodeHintType]any{gozxing.DecodeHintType_TRY_HARDER: true})
	if err != nil {
		t.Fatalf("no QR code found: %v", err)
	}
	return res.GetText()
}

func writeFile(t *testing.T, name string, b []byte) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}
