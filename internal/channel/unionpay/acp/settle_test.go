package acp

import (
	"bytes"
	"compress/flate"
	"encoding/base64"
	"errors"
	"strings"
	"testing"
)

func sampleSettleFields() map[string]string {
	return map[string]string{
		"tradeNo": TradePayment, "acqInsCode": "00010000", "sendInsCode": "00010000", "traceNo": "42",
		"txnTime": "1126103000", "payCardNo": "622202*********0009", "txnAmt": "580000", "merCatCode": "8220",
		"termType": "07", "queryId": "261126103000123000042", "orderId": "T2026112600001", "payCardType": "01",
		"merCharge": "D000000000000", "settleAmt": "C000000580000", "payType": "0001", "txnType": "01",
		"txnSubType": "01", "bizType": "000201", "accType": "01", "merId": "777290058110097",
	}
}

// TestSettleLineLayout pins the columns of the layout PROTOCOLS.md gives:
// a hand count, not the code's own sums.
func TestSettleLineLayout(t *testing.T) {
	line, err := FormatSettleLine(sampleSettleFields())
	if err != nil {
		t.Fatal(err)
	}
	cols := []struct {
		from, to int // 0-based, end exclusive
		want     string
	}{
		{0, 3, "S22"},
		{4, 15, "00010000   "},
		{28, 34, "000042"},                 // traceNo
		{35, 45, "1126103000"},             // txnTime
		{46, 65, "622202*********0009"},    // payCardNo
		{66, 78, "000000580000"},           // txnAmt
		{79, 83, "8220"},                   // merCatCode
		{87, 108, "261126103000123000042"}, // queryId
		{112, 144, "T2026112600001" + strings.Repeat(" ", 18)}, // orderId
		{145, 147, "01"},            // payCardType
		{166, 179, "D000000000000"}, // merCharge
		{180, 193, "C000000580000"}, // settleAmt
		{194, 198, "0001"},          // payType
		{215, 217, "01"},            // txnType
	}
	for _, c := range cols {
		if got := line[c.from:c.to]; got != c.want {
			t.Errorf("columns %d–%d = %q, want %q", c.from+1, c.to, got, c.want)
		}
	}
	if len(line) != 198+1+100+9 {
		t.Errorf("line of %d characters", len(line))
	}
	got, err := ParseSettleLine(line)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range sampleSettleFields() {
		switch k { // numeric fields keep their zeros
		case "traceNo":
			v = "000042"
		case "txnAmt":
			v = "000000580000"
		}
		if got[k] != v {
			t.Errorf("%s = %q, want %q", k, got[k], v)
		}
	}
}

func TestParseSettleLineRefusals(t *testing.T) {
	good, _ := FormatSettleLine(sampleSettleFields())
	tests := []struct {
		name string
		line string
		ok   bool
	}{
		{"the whole line", good, true},
		{"the fields up to payType only", good[:198], true},
		{"cut inside an optional field", good[:210], true},
		{"cut inside payType", good[:196], false},
		{"a separator that is not a space", good[:3] + "|" + good[4:], false},
		{"empty", "", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f, err := ParseSettleLine(tc.line)
			if (err == nil) != tc.ok {
				t.Fatalf("err = %v, want ok %v", err, tc.ok)
			}
			if err != nil && !errors.Is(err, ErrBadSettleFile) {
				t.Fatalf("error %v does not wrap ErrBadSettleFile", err)
			}
			if tc.ok && (f["orderId"] != "T2026112600001" || f["payType"] != "0001") {
				t.Fatalf("fields %v", f)
			}
		})
	}
	f := sampleSettleFields()
	f["orderId"] = strings.Repeat("X", 33)
	if _, err := FormatSettleLine(f); err == nil {
		t.Fatal("an orderId of 33 characters was written")
	}
}

func TestFileContentRoundTrip(t *testing.T) {
	data := []byte("line one\r\nline two\r\n")
	content, err := EncodeFileContent("INN26112688ZM_777290058110097", data)
	if err != nil {
		t.Fatal(err)
	}
	files, err := DecodeFileContent(content)
	if err != nil || len(files) != 1 || files[0].Name != "INN26112688ZM_777290058110097" || !bytes.Equal(files[0].Data, data) {
		t.Fatalf("decoded %+v %v", files, err)
	}
	// A raw deflate stream (no zlib header) is read too.
	raw, _ := base64.StdEncoding.DecodeString(content)
	zipData, _ := inflate(raw)
	var buf bytes.Buffer
	fw, _ := flate.NewWriter(&buf, flate.DefaultCompression)
	fw.Write(zipData)
	fw.Close()
	files, err = DecodeFileContent(base64.StdEncoding.EncodeToString(buf.Bytes()))
	if err != nil || len(files) != 1 || !bytes.Equal(files[0].Data, data) {
		t.Fatalf("raw deflate: %+v %v", files, err)
	}
	for _, bad := range []string{"!!!", base64.StdEncoding.EncodeToString([]byte("not compressed")), ""} {
		if _, err := DecodeFileContent(bad); !errors.Is(err, ErrBadSettleFile) {
			t.Errorf("DecodeFileContent(%q) = %v", bad, err)
		}
	}
}

// FuzzDecodeFileContent: no input panics or escapes the size bounds, and
// every refusal wraps ErrBadSettleFile.
func FuzzDecodeFileContent(f *testing.F) {
	good, _ := EncodeFileContent("INN26112688ZM_777290058110097", []byte("S22 x\r\n"))
	f.Add(good)
	f.Add("eJwLyczPBQAD")
	f.Add("")
	f.Fuzz(func(t *testing.T, content string) {
		files, err := DecodeFileContent(content)
		if err != nil {
			if !errors.Is(err, ErrBadSettleFile) {
				t.Fatalf("error %v does not wrap ErrBadSettleFile", err)
			}
			return
		}
		total := 0
		for _, file := range files {
			total += len(file.Data)
		}
		if total > maxSettleFile {
			t.Fatalf("%d bytes decoded", total)
		}
	})
}

// FuzzParseSettleLine: no input panics; every field read fits its width.
func FuzzParseSettleLine(f *testing.F) {
	good, _ := FormatSettleLine(sampleSettleFields())
	f.Add(good)
	f.Add(good[:198])
	f.Add(strings.Repeat(" ", 300))
	f.Fuzz(func(t *testing.T, line string) {
		fields, err := ParseSettleLine(line)
		if err != nil {
			return
		}
		for _, sf := range SettleLayout {
			if v, ok := fields[sf.Name]; ok && len(v) > sf.Width {
				t.Fatalf("%s = %q wider than %d", sf.Name, v, sf.Width)
			}
		}
	})
}
