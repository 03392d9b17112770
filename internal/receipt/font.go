package receipt

import (
	"bytes"
	"compress/gzip"
	_ "embed"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"sort"
	"sync"
)

// fontGz is a subset of WenQuanYi Micro Hei (Apache-2.0; fonts/README.md
// says what it holds and how it was made), gzip-compressed.
//
//go:embed fonts/wqy-microhei-receipt.ttf.gz
var fontGz []byte

// fallbackRune stands for a character the font lacks.
const fallbackRune = '□'

// receiptFont is the uncompressed font and the characters it covers,
// unpacked once, on first use.
var receiptFont = sync.OnceValues(func() (*font, error) {
	zr, err := gzip.NewReader(bytes.NewReader(fontGz))
	if err != nil {
		return nil, fmt.Errorf("receipt: font: %w", err)
	}
	ttf, err := io.ReadAll(zr)
	if err != nil {
		return nil, fmt.Errorf("receipt: font: %w", err)
	}
	covered, err := cmapRunes(ttf)
	if err != nil {
		return nil, fmt.Errorf("receipt: font: %w", err)
	}
	if !covered[fallbackRune] {
		return nil, errors.New("receipt: font lacks the fallback character")
	}
	return &font{ttf: ttf, covered: covered}, nil
})

type font struct {
	ttf     []byte
	covered map[rune]bool
}

// clean returns s as the font can draw it: characters it lacks become □
// (and are added to missing), control characters become spaces.
func (f *font) clean(s string, missing map[rune]bool) string {
	out := []rune(s)
	for i, r := range out {
		switch {
		case r < ' ' || r == 0x7f:
			out[i] = ' '
		case !f.covered[r]:
			out[i] = fallbackRune
			if missing != nil {
				missing[r] = true
			}
		}
	}
	return string(out)
}

// Unrenderable lists, in order, the characters of r's text that the
// receipt font lacks and that PDF therefore prints as □, so a caller can
// log or report them (a rare character in a name, say).
func Unrenderable(r Receipt) ([]rune, error) {
	f, err := receiptFont()
	if err != nil {
		return nil, err
	}
	missing := map[rune]bool{}
	for _, s := range r.texts() {
		f.clean(s, missing)
	}
	out := make([]rune, 0, len(missing))
	for c := range missing {
		out = append(out, c)
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out, nil
}

// texts is every caller-supplied string the receipt prints.
func (r Receipt) texts() []string {
	out := []string{r.PlatformName, r.SchoolName, r.ReceiptNo, r.OrderNo, r.StudentNo, r.StudentName,
		r.Grade, r.Major, r.Class, r.Channel, r.MaskedCard, r.VerifyCode, r.VerifyURL}
	for _, it := range r.Items {
		out = append(out, it.Project, it.Name)
	}
	return out
}

// cmapRunes reads which characters a TrueType font maps to a glyph, from
// the Unicode cmap subtable of format 4 (platform 3 encoding 1, or
// platform 0): the one the PDF library draws from, so the two agree.
func cmapRunes(ttf []byte) (map[rune]bool, error) {
	be := binary.BigEndian
	if len(ttf) < 12 {
		return nil, errors.New("not a TrueType font")
	}
	var cmap []byte
	for i, n := 0, int(be.Uint16(ttf[4:])); i < n; i++ {
		rec := 12 + 16*i
		if rec+16 > len(ttf) {
			return nil, errors.New("truncated table directory")
		}
		if string(ttf[rec:rec+4]) == "cmap" {
			off, length := int(be.Uint32(ttf[rec+8:])), int(be.Uint32(ttf[rec+12:]))
			if length < 4 || off+length > len(ttf) {
				return nil, errors.New("cmap out of bounds")
			}
			cmap = ttf[off : off+length]
		}
	}
	if cmap == nil {
		return nil, errors.New("no cmap table")
	}
	var sub []byte
	for i, n := 0, int(be.Uint16(cmap[2:])); i < n && sub == nil; i++ {
		rec := 4 + 8*i
		if rec+8 > len(cmap) {
			return nil, errors.New("truncated cmap")
		}
		platform, encoding, off := be.Uint16(cmap[rec:]), be.Uint16(cmap[rec+2:]), int(be.Uint32(cmap[rec+4:]))
		if (platform == 0 || platform == 3 && encoding == 1) && off+14 <= len(cmap) && be.Uint16(cmap[off:]) == 4 {
			sub = cmap[off:]
		}
	}
	if sub == nil {
		return nil, errors.New("no Unicode cmap of format 4")
	}
	seg := int(be.Uint16(sub[6:])) / 2
	ends, starts, deltas, offs := 14, 16+2*seg, 16+4*seg, 16+6*seg
	if offs+2*seg > len(sub) {
		return nil, errors.New("truncated cmap format 4")
	}
	covered := map[rune]bool{}
	for i := range seg {
		start, end := int(be.Uint16(sub[starts+2*i:])), int(be.Uint16(sub[ends+2*i:]))
		delta, ro := int(be.Uint16(sub[deltas+2*i:])), int(be.Uint16(sub[offs+2*i:]))
		for c := start; c <= end && c != 0xFFFF; c++ {
			g := (c + delta) & 0xFFFF
			if ro != 0 {
				at := offs + 2*i + ro + 2*(c-start)
				if at+2 > len(sub) {
					return nil, errors.New("cmap format 4 glyph index out of bounds")
				}
				if g = int(be.Uint16(sub[at:])); g != 0 {
					g = (g + delta) & 0xFFFF
				}
			}
			if g != 0 {
				covered[rune(c)] = true
			}
		}
	}
	return covered, nil
}
