package acp

import (
	"archive/zip"
	"bytes"
	"compress/flate"
	"compress/zlib"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"strings"
)

// The settlement file (对账文件) that fileTransRequest.do hands out:
// fileContent is base64 of a compressed zip archive, and the archive holds
// the merchant's transaction file (流水文件, named INN<yyMMdd>88ZM_<merId>)
// with one fixed-width line per transaction.
//
// What PROTOCOLS.md and public parsers settle, and what we assume where
// they do not:
//   - The field order and widths of SettleLayout up to payType come from
//     UnionPay's published file spec; the fields after it
//     (groupMerCode … merId) follow the layout that public parsers of the
//     same file use. Fields are separated by one space.
//   - Numeric fields (N) are right-aligned and zero-padded; text fields
//     are left-aligned and space-padded. Amounts are in fen.
//   - merCharge and settleAmt are 13 characters: a sign, C (credited to
//     the merchant) or D (debited), then 12 digits of fen.
//   - A payment (消费) has tradeNo S22 and txnType 01; a refund (退货) has
//     tradeNo S30, txnType 04, settleAmt signed D, its own orderId (the
//     refund number) and queryId, and the payment's queryId in origQryId
//     (its trace number and time in origTradeSysTraceNo/origTradeTime).
//   - The compression is a zlib stream (what Java's Deflater writes, which
//     UnionPay's SDK inflates); a raw deflate stream is accepted too.

// SettleField is one fixed-width field of a transaction line.
type SettleField struct {
	Name  string
	Width int
	Num   bool // right-aligned, zero-padded
}

// SettleLayout is the transaction line, field by field.
var SettleLayout = []SettleField{
	{"tradeNo", 3, false},
	{"acqInsCode", 11, false},
	{"sendInsCode", 11, false},
	{"traceNo", 6, true},
	{"txnTime", 10, true}, // MMDDhhmmss, Beijing
	{"payCardNo", 19, false},
	{"txnAmt", 12, true},
	{"merCatCode", 4, false},
	{"termType", 2, false},
	{"queryId", 21, false},
	{"oldPayType", 2, false},
	{"orderId", 32, false},
	{"payCardType", 2, false},
	{"origTradeSysTraceNo", 6, false},
	{"origTradeTime", 10, false},
	{"merCharge", 13, false},
	{"settleAmt", 13, false},
	{"payType", 4, false},
	// Beyond what PROTOCOLS.md names: as public parsers of the file read it.
	{"groupMerCode", 15, false},
	{"txnType", 2, false},
	{"txnSubType", 2, false},
	{"bizType", 6, false},
	{"accType", 2, false},
	{"billType", 4, false},
	{"billNo", 32, false},
	{"interactMode", 1, false},
	{"origQryId", 21, false},
	{"merId", 15, false},
}

// settleBaseFields is how many leading fields every line must have (up to
// payType).
const settleBaseFields = 18

// Settlement trade codes (tradeNo).
const (
	TradePayment = "S22" // 消费
	TradeRefund  = "S30" // 退货
)

// ErrBadSettleFile marks a settlement file that cannot be read.
var ErrBadSettleFile = errors.New("acp: malformed settlement file")

// FormatSettleLine writes one transaction line from its fields (missing
// ones blank); a value wider than its field is an error.
func FormatSettleLine(fields map[string]string) (string, error) {
	var b strings.Builder
	for i, f := range SettleLayout {
		if i > 0 {
			b.WriteByte(' ')
		}
		v := fields[f.Name]
		if len(v) > f.Width {
			return "", fmt.Errorf("acp: %s %q wider than %d", f.Name, v, f.Width)
		}
		pad := strings.Repeat(" ", f.Width-len(v))
		switch {
		case f.Num && v != "":
			b.WriteString(strings.Repeat("0", f.Width-len(v)) + v)
		case f.Num:
			b.WriteString(pad)
		default:
			b.WriteString(v + pad)
		}
	}
	return b.String(), nil
}

// ParseSettleLine splits one transaction line into its fields, trimmed of
// padding. The fields up to payType are required; later ones are read as
// far as the line goes. A separator that is not a space is an error.
func ParseSettleLine(line string) (map[string]string, error) {
	out := make(map[string]string, len(SettleLayout))
	pos := 0
	for i, f := range SettleLayout {
		if i > 0 {
			if pos >= len(line) && i >= settleBaseFields {
				break
			}
			if pos >= len(line) || line[pos] != ' ' {
				return nil, fmt.Errorf("%w: no separator before %s at column %d", ErrBadSettleFile, f.Name, pos+1)
			}
			pos++
		}
		if pos+f.Width > len(line) {
			if i >= settleBaseFields {
				break
			}
			return nil, fmt.Errorf("%w: line of %d characters ends in %s", ErrBadSettleFile, len(line), f.Name)
		}
		out[f.Name] = strings.TrimSpace(line[pos : pos+f.Width])
		pos += f.Width
	}
	return out, nil
}

// File is one file of a settlement archive.
type File struct {
	Name string
	Data []byte
}

// maxSettleFile bounds each decompressed stage of a settlement file.
const maxSettleFile = 64 << 20

// EncodeFileContent packs one file as fileContent: a zip archive holding
// it, zlib-compressed, base64-encoded.
func EncodeFileContent(name string, data []byte) (string, error) {
	var zbuf bytes.Buffer
	zw := zip.NewWriter(&zbuf)
	w, err := zw.Create(name)
	if err != nil {
		return "", err
	}
	if _, err := w.Write(data); err != nil {
		return "", err
	}
	if err := zw.Close(); err != nil {
		return "", err
	}
	var cbuf bytes.Buffer
	cw := zlib.NewWriter(&cbuf)
	if _, err := cw.Write(zbuf.Bytes()); err != nil {
		return "", err
	}
	if err := cw.Close(); err != nil {
		return "", err
	}
	return base64.StdEncoding.EncodeToString(cbuf.Bytes()), nil
}

// DecodeFileContent unpacks fileContent: base64 (line breaks ignored),
// then inflate (zlib, or raw deflate), then unzip. Every stage is bounded,
// so a hostile archive cannot exhaust memory.
func DecodeFileContent(content string) ([]File, error) {
	content = strings.NewReplacer("\r", "", "\n", "").Replace(content)
	if len(content) > maxSettleFile {
		return nil, fmt.Errorf("%w: fileContent too large", ErrBadSettleFile)
	}
	raw, err := base64.StdEncoding.DecodeString(content)
	if err != nil {
		return nil, fmt.Errorf("%w: fileContent is not base64", ErrBadSettleFile)
	}
	zipData, err := inflate(raw)
	if err != nil {
		return nil, err
	}
	zr, err := zip.NewReader(bytes.NewReader(zipData), int64(len(zipData)))
	if err != nil {
		return nil, fmt.Errorf("%w: not a zip archive: %v", ErrBadSettleFile, err)
	}
	if len(zr.File) > 64 {
		return nil, fmt.Errorf("%w: %d files in the archive", ErrBadSettleFile, len(zr.File))
	}
	var out []File
	total := 0
	for _, f := range zr.File {
		if f.FileInfo().IsDir() {
			continue
		}
		data, err := readZipFile(f)
		if err != nil {
			return nil, err
		}
		if total += len(data); total > maxSettleFile {
			return nil, fmt.Errorf("%w: archive larger than %d bytes", ErrBadSettleFile, maxSettleFile)
		}
		out = append(out, File{Name: f.Name, Data: data})
	}
	return out, nil
}

func inflate(raw []byte) ([]byte, error) {
	var r io.ReadCloser
	if zr, err := zlib.NewReader(bytes.NewReader(raw)); err == nil {
		r = zr
	} else {
		r = flate.NewReader(bytes.NewReader(raw))
	}
	defer r.Close()
	data, err := io.ReadAll(io.LimitReader(r, maxSettleFile+1))
	if err != nil {
		return nil, fmt.Errorf("%w: inflate: %v", ErrBadSettleFile, err)
	}
	if len(data) > maxSettleFile {
		return nil, fmt.Errorf("%w: inflated archive larger than %d bytes", ErrBadSettleFile, maxSettleFile)
	}
	return data, nil
}

func readZipFile(f *zip.File) ([]byte, error) {
	rc, err := f.Open()
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrBadSettleFile, f.Name, err)
	}
	defer rc.Close()
	data, err := io.ReadAll(io.LimitReader(rc, maxSettleFile+1))
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrBadSettleFile, f.Name, err)
	}
	if len(data) > maxSettleFile {
		return nil, fmt.Errorf("%w: %s larger than %d bytes", ErrBadSettleFile, f.Name, maxSettleFile)
	}
	return data, nil
}
