package receipt

import (
	"strings"
	"testing"
	"time"

	"campuspay/internal/money"
)

var (
	testSecret = []byte("test-only receipt secret, 32 byt")
	testPaidAt = time.Date(2025, 9, 1, 12, 0, 3, 0, beijing)
)

func TestCodeShape(t *testing.T) {
	seen := map[string]bool{}
	for i := range 2000 {
		c := Code(testSecret, "CP2025090100"+strings.Repeat("A", i%7)+string(rune('0'+i%10)), money.Fen(i), testPaidAt.Add(time.Duration(i)*time.Second))
		if len(c) != 14 || c[4] != '-' || c[9] != '-' {
			t.Fatalf("code %q is not XXXX-XXXX-XXXX", c)
		}
		for _, r := range strings.ReplaceAll(c, "-", "") {
			if !strings.ContainsRune(codeAlphabet, r) || strings.ContainsRune("01OI", r) {
				t.Fatalf("code %q has %q", c, r)
			}
		}
		seen[c] = true
	}
	if len(seen) != 2000 {
		t.Errorf("2000 different receipts gave %d different codes", len(seen))
	}
}

func TestCodeIsStableAndBindsEveryInput(t *testing.T) {
	c := Code(testSecret, "CP20250901A1B2C3D4", 700000, testPaidAt)
	if again := Code(testSecret, "CP20250901A1B2C3D4", 700000, testPaidAt.UTC().Add(999*time.Millisecond)); again != c {
		t.Errorf("the same payment second in another zone gives %s, then %s", c, again)
	}
	// Computed outside Go: HMAC-SHA256 (key testSecret) of
	// "campuspay receipt v1\nCP20250901A1B2C3D4\n700000\n1756699203",
	// its first 60 bits in 5-bit groups over codeAlphabet. A change here
	// invalidates every printed receipt.
	if c != "ATSX-529K-5EQF" {
		t.Errorf("Code = %s; want ATSX-529K-5EQF", c)
	}
	for name, other := range map[string]string{
		"order":  Code(testSecret, "CP20250901A1B2C3D5", 700000, testPaidAt),
		"amount": Code(testSecret, "CP20250901A1B2C3D4", 700001, testPaidAt),
		"time":   Code(testSecret, "CP20250901A1B2C3D4", 700000, testPaidAt.Add(time.Second)),
		"secret": Code([]byte("another secret"), "CP20250901A1B2C3D4", 700000, testPaidAt),
	} {
		if other == c {
			t.Errorf("another %s gives the same code %s", name, c)
		}
	}
}

func TestCheckCode(t *testing.T) {
	code := Code(testSecret, "CP20250901A1B2C3D4", 700000, testPaidAt)
	lower := strings.ToLower(code)
	cases := []struct {
		name  string
		typed string
		want  bool
	}{
		{"the code as printed", code, true},
		{"lower case without dashes", strings.ReplaceAll(lower, "-", ""), true},
		{"with spaces instead of dashes", strings.ReplaceAll(code, "-", " "), true},
		{"full-width as an input method types it", toFullWidth(code), true},
		{"with a space around", " " + code + " ", true},
		{"one character changed", code[:13] + string(nextCodeChar(code[13])), false},
		{"one character short", code[:13], false},
		{"one character more", code + "2", false},
		{"empty", "", false},
		{"very long", strings.Repeat(code, 10), false},
	}
	for _, c := range cases {
		if got := CheckCode(testSecret, "CP20250901A1B2C3D4", 700000, testPaidAt, c.typed); got != c.want {
			t.Errorf("%s: CheckCode(%q) = %v; want %v", c.name, c.typed, got, c.want)
		}
	}
	if CheckCode(testSecret, "CP20250901A1B2C3D4", 700100, testPaidAt, code) {
		t.Error("the code checks for another amount")
	}
	if CheckCode(nil, "CP20250901A1B2C3D4", 700000, testPaidAt, Code(nil, "CP20250901A1B2C3D4", 700000, testPaidAt)) {
		t.Error("a code checks under an empty secret")
	}
}

func toFullWidth(s string) string {
	var b strings.Builder
	for _, r := range s {
		b.WriteRune(r - '!' + '！')
	}
	return b.String()
}

func nextCodeChar(c byte) byte {
	i := strings.IndexByte(codeAlphabet, c)
	return codeAlphabet[(i+1)%len(codeAlphabet)]
}

// FuzzCheckCode: whatever a person types into the public page, CheckCode
// answers without panicking, and only the real code (in any of its
// forgiven spellings) checks.
func FuzzCheckCode(f *testing.F) {
	code := Code(testSecret, "CP1", 100, testPaidAt)
	for _, s := range []string{code, strings.ToLower(code), "", "----", "ＡＢＣＤ－", "\xff\xfe", strings.Repeat("2", 12)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, typed string) {
		ok := CheckCode(testSecret, "CP1", 100, testPaidAt, typed)
		if ok && normalizeCode(typed) != strings.ReplaceAll(code, "-", "") {
			t.Fatalf("CheckCode accepts %q for %s", typed, code)
		}
	})
}

func TestMaskName(t *testing.T) {
	cases := map[string]string{
		"张三":     "张*",
		"欧阳娜娜":   "欧***",
		"李":      "*",
		"":       "",
		" 王小明 ":  "王**",
		"买买提·艾力": "买*****",
		"Li Lei": "L*****",
	}
	for in, want := range cases {
		if got := MaskName(in); got != want {
			t.Errorf("MaskName(%q) = %q; want %q", in, got, want)
		}
	}
}
