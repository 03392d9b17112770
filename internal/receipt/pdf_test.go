package receipt

import (
	"bytes"
	"errors"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"image"
	_ "image/png"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/makiuchi-d/gozxing"
	"github.com/makiuchi-d/gozxing/qrcode"
	"golang.org/x/text/encoding/simplifiedchinese"

	"campuspay/internal/money"
)

// These tests read the PDF back with poppler-utils (pdftotext, pdfimages,
// pdftoppm, pdfinfo), which CI must install.

// needTool fails the test when a poppler-utils program is missing.
func needTool(t *testing.T, name string) {
	t.Helper()
	if _, err := exec.LookPath(name); err != nil {
		t.Fatalf("%s not found: install poppler-utils (apt-get install -y poppler-utils)", name)
	}
}

// writePDF makes r's PDF in a temporary directory and returns its path.
func writePDF(t *testing.T, r Receipt) string {
	t.Helper()
	var buf bytes.Buffer
	if err := PDF(&buf, r); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "receipt.pdf")
	if err := os.WriteFile(path, buf.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// pdfText is the text pdftotext reads from the PDF, without spaces and
// line breaks (which depend on the layout, not on the content).
func pdfText(t *testing.T, path string) string {
	t.Helper()
	needTool(t, "pdftotext")
	out, err := exec.Command("pdftotext", "-enc", "UTF-8", path, "-").Output()
	if err != nil {
		t.Fatalf("pdftotext: %v", err)
	}
	return strings.Join(strings.Fields(string(out)), "")
}

func TestPDFTextReadsBack(t *testing.T) {
	r := sampleReceipt()
	text := pdfText(t, writePDF(t, r))
	for _, want := range []string{
		"缴费凭证", "电子收据", "收款单位：西南示范大学", "校园统一缴费平台",
		"学号", "2025010203", "姓名", "欧阳娜娜", "2025级", "计算机科学与技术", "计科2502班",
		"收费项目", "收费子项", "金额（元）", "2025学年学费住宿费", "学费", "住宿费", "军训服装费",
		"5,800.00", "1,200.00", "230.05",
		"合计：人民币（大写）柒仟贰佰叁拾元零伍分", "¥7,230.05",
		"支付方式", "银联在线", "6216********0018", "CP20250901A1B2C3D4", "SJCP20250901A1B2C3D4",
		"2025年09月01日12:00:03（北京时间）",
		"验证码", r.VerifyCode, "扫描右侧二维码", "（缴费人：欧***）",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("the PDF's text lacks %q\n%s", want, text)
		}
	}
	if strings.Contains(text, "已退款") || strings.Contains(text, "□") {
		t.Errorf("an unrefunded receipt of common characters shows a refund or a fallback:\n%s", text)
	}
}

func TestPDFShowsARefund(t *testing.T) {
	r := sampleReceipt()
	r.Refunded = 23005
	text := pdfText(t, writePDF(t, r))
	for _, want := range []string{"已部分", "已退款：人民币（大写）贰佰叁拾元零伍分", "-¥230.05", "实收净额：人民币（大写）柒仟元整", "¥7,000.00"} {
		if !strings.Contains(text, want) {
			t.Errorf("a partly refunded receipt lacks %q\n%s", want, text)
		}
	}
	r.Refunded = r.Total
	if text := pdfText(t, writePDF(t, r)); !strings.Contains(text, "全额") || !strings.Contains(text, "实收净额：人民币（大写）零元整") {
		t.Errorf("a fully refunded receipt does not say so\n%s", text)
	}
}

// A character outside the font (𠮷 beyond the BMP, 龘 inside it) prints as
// □, is reported by Unrenderable, and the receipt says what □ means.
func TestRareCharactersFallBack(t *testing.T) {
	r := sampleReceipt()
	r.StudentName = "王𠮷"
	r.Items[2].Name = "龘服装费"
	missing, err := Unrenderable(r)
	if err != nil {
		t.Fatal(err)
	}
	if string(missing) != "龘𠮷" {
		t.Errorf("Unrenderable = %q; want 龘𠮷", string(missing))
	}
	text := pdfText(t, writePDF(t, r))
	for _, want := range []string{"王□", "□服装费", "“□”表示本凭证字体无法显示的字符"} {
		if !strings.Contains(text, want) {
			t.Errorf("the PDF's text lacks %q\n%s", want, text)
		}
	}
	if got, _ := Unrenderable(sampleReceipt()); len(got) != 0 {
		t.Errorf("the sample receipt has unrenderable characters %q", string(got))
	}
}

// decodeQR reads a QR code from an image.
func decodeQR(t *testing.T, img image.Image) string {
	t.Helper()
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

func decodePNGFile(t *testing.T, path string) string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, _, err := image.Decode(f)
	if err != nil {
		t.Fatal(err)
	}
	return decodeQR(t, img)
}

func TestQRPNGDecodesToTheURL(t *testing.T) {
	url := sampleReceipt().VerifyURL
	b, err := QRPNG(url)
	if err != nil {
		t.Fatal(err)
	}
	img, _, err := image.Decode(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	if got := decodeQR(t, img); got != url {
		t.Errorf("QR code reads %q; want %q", got, url)
	}
}

// The QR code inside the PDF, both as the embedded image and as the page
// prints, opens VerifyURL.
func TestQRInThePDFDecodesToTheURL(t *testing.T) {
	needTool(t, "pdfimages")
	needTool(t, "pdftoppm")
	r := sampleReceipt()
	path := writePDF(t, r)
	dir := t.TempDir()
	if out, err := exec.Command("pdfimages", "-png", path, filepath.Join(dir, "img")).CombinedOutput(); err != nil {
		t.Fatalf("pdfimages: %v %s", err, out)
	}
	imgs, _ := filepath.Glob(filepath.Join(dir, "img-*.png"))
	if len(imgs) != 1 {
		t.Fatalf("the PDF holds %d images; want the QR code alone", len(imgs))
	}
	if got := decodePNGFile(t, imgs[0]); got != r.VerifyURL {
		t.Errorf("embedded QR code reads %q; want %q", got, r.VerifyURL)
	}
	if out, err := exec.Command("pdftoppm", "-r", "150", "-png", "-singlefile", path, filepath.Join(dir, "page")).CombinedOutput(); err != nil {
		t.Fatalf("pdftoppm: %v %s", err, out)
	}
	if got := decodePNGFile(t, filepath.Join(dir, "page.png")); got != r.VerifyURL {
		t.Errorf("the printed page's QR code reads %q; want %q", got, r.VerifyURL)
	}
}

// A receipt stays small: the font is subset to the characters it uses.
func TestPDFIsSmall(t *testing.T) {
	var buf bytes.Buffer
	if err := PDF(&buf, sampleReceipt()); err != nil {
		t.Fatal(err)
	}
	if n := buf.Len(); n > 60_000 {
		t.Errorf("the sample receipt is %d bytes; want at most 60000", n)
	}
	var again bytes.Buffer
	if err := PDF(&again, sampleReceipt()); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(buf.Bytes(), again.Bytes()) {
		t.Error("the same receipt gave different bytes")
	}
}

// A bill of many lines flows onto a second page, the table header
// repeated, every line and the total present.
func TestLongReceiptFlowsOntoMorePages(t *testing.T) {
	needTool(t, "pdfinfo")
	r := sampleReceipt()
	r.Items = nil
	r.Total = 0
	for i := range 40 {
		amt := money.Fen(1000 * (i + 1))
		r.Items = append(r.Items, Item{Project: "2025学年代收费", Name: fmt.Sprintf("代收项目第%d项（含较长的说明文字以便换行显示）", i+1), Amount: amt})
		r.Total += amt
	}
	path := writePDF(t, r)
	out, err := exec.Command("pdfinfo", path).Output()
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(out), "Pages:") || strings.Contains(string(out), "Pages:           1\n") {
		t.Errorf("a 40-line receipt fits one page?\n%s", out)
	}
	text := pdfText(t, path)
	for i := range 40 {
		if !strings.Contains(text, fmt.Sprintf("代收项目第%d项", i+1)) {
			t.Errorf("line %d is missing", i+1)
		}
	}
	if strings.Count(text, "收费子项") < 2 {
		t.Error("the items header is not repeated on the next page")
	}
	if !strings.Contains(text, "合计：人民币（大写）"+Capital(r.Total)) {
		t.Errorf("the total %s is missing", Capital(r.Total))
	}
}

func TestPDFRefusesAnInvalidReceipt(t *testing.T) {
	cases := map[string]func(*Receipt){
		"no school":                   func(r *Receipt) { r.SchoolName = " " },
		"no verification URL":         func(r *Receipt) { r.VerifyURL = "" },
		"no payment time":             func(r *Receipt) { r.PaidAt = time.Time{} },
		"no items":                    func(r *Receipt) { r.Items = nil },
		"a total that is not the sum": func(r *Receipt) { r.Total++ },
		"a line of nothing":           func(r *Receipt) { r.Items[0].Amount = 0; r.Total -= 580000 },
		"more refunded than paid":     func(r *Receipt) { r.Refunded = r.Total + 1 },
		"a negative refund":           func(r *Receipt) { r.Refunded = -1 },
	}
	for name, mod := range cases {
		r := sampleReceipt()
		mod(&r)
		if err := PDF(new(bytes.Buffer), r); !errors.Is(err, ErrInvalid) {
			t.Errorf("%s: PDF = %v; want ErrInvalid", name, err)
		}
	}
}

// Every character the package itself prints (titles, labels, notes,
// capital numerals) is in the font, so only callers' text can fall back.
func TestFontCoversEveryFixedText(t *testing.T) {
	f, err := receiptFont()
	if err != nil {
		t.Fatal(err)
	}
	fset := token.NewFileSet()
	for _, name := range []string{"pdf.go", "capital.go"} {
		file, err := parser.ParseFile(fset, name, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		ast.Inspect(file, func(n ast.Node) bool {
			lit, ok := n.(*ast.BasicLit)
			if !ok || lit.Kind != token.STRING {
				return true
			}
			s, err := strconv.Unquote(lit.Value)
			if err != nil {
				t.Fatal(err)
			}
			for _, r := range s {
				if r >= ' ' && !f.covered[r] {
					t.Errorf("%s: %q in %s is not in the font", fset.Position(lit.Pos()), r, s)
				}
			}
			return true
		})
	}
}

// The font holds what receipts need: ASCII, full-width forms, Chinese
// punctuation, and all 3,755 characters of GB2312 level 1.
func TestFontCoversCommonText(t *testing.T) {
	f, err := receiptFont()
	if err != nil {
		t.Fatal(err)
	}
	var want []rune
	for r := rune(' '); r <= '~'; r++ {
		want = append(want, r)
	}
	want = append(want, []rune("０１２３４５６７８９ＡＺａｚ（）【】《》“”‘’、。，；：？！—…·￥¥□")...)
	dec := simplifiedchinese.GBK.NewDecoder()
	level1 := 0
	for hi := 0xB0; hi <= 0xD7; hi++ {
		for lo := 0xA1; lo <= 0xFE; lo++ {
			if hi == 0xD7 && lo > 0xF9 {
				break
			}
			s, err := dec.Bytes([]byte{byte(hi), byte(lo)})
			if err != nil {
				t.Fatal(err)
			}
			r, _ := utf8.DecodeRune(s)
			want = append(want, r)
			level1++
		}
	}
	if level1 != 3755 {
		t.Fatalf("GB2312 level 1 has %d characters here; want 3755", level1)
	}
	for _, r := range want {
		if !f.covered[r] {
			t.Errorf("the font lacks %q (U+%04X)", r, r)
		}
	}
	if len(f.covered) > 5000 {
		t.Errorf("the font covers %d characters: it was meant to be a small subset", len(f.covered))
	}
}

// cmapRunes answers an error, never a panic, for a cut-off font.
func TestCmapRunesOnATruncatedFont(t *testing.T) {
	f, err := receiptFont()
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range []int{0, 11, 12, 100, 200, 400, 1000, 5000} {
		if _, err := cmapRunes(f.ttf[:n]); err == nil {
			t.Errorf("a font cut to %d bytes parses", n)
		}
	}
}

func TestVerificationShowsNothingPersonal(t *testing.T) {
	r := sampleReceipt()
	v := r.Verification()
	if v.MaskedName != "欧***" || v.OrderNo != r.OrderNo || v.Total != r.Total || !v.PaidAt.Equal(r.PaidAt) || v.PaidAt.Location() != beijing {
		t.Errorf("Verification = %+v", v)
	}
	s := fmt.Sprintf("%+v", v)
	for _, personal := range []string{r.StudentName, r.StudentNo, r.Major, r.Class, r.MaskedCard, "6216"} {
		if strings.Contains(s, personal) {
			t.Errorf("the public view carries %q: %s", personal, s)
		}
	}
}
