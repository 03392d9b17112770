package receipt

import (
	"testing"

	"campuspay/internal/money"
)

func TestCapital(t *testing.T) {
	cases := []struct {
		fen  money.Fen
		want string
	}{
		{0, "零元整"},
		{1, "壹分"},
		{5, "伍分"},
		{10, "壹角"},
		{50, "伍角"},
		{99, "玖角玖分"},
		{100, "壹元整"},
		{1000, "壹拾元整"},
		{1005, "壹拾元零伍分"},
		{1050, "壹拾元伍角"},
		{1200, "壹拾贰元整"},
		{10005, "壹佰元零伍分"},
		{10100, "壹佰零壹元整"},
		{11000, "壹佰壹拾元整"},
		{100000, "壹仟元整"},
		{100100, "壹仟零壹元整"},
		{101000, "壹仟零壹拾元整"},
		{120000, "壹仟贰佰元整"},
		{650000, "陆仟伍佰元整"},
		{580000, "伍仟捌佰元整"},
		{700000, "柒仟元整"},
		{168032, "壹仟陆佰捌拾元叁角贰分"},
		{1000000, "壹万元整"},
		{1001010, "壹万零壹拾元壹角"},
		{1001000, "壹万零壹拾元整"},
		{1000001, "壹万元零壹分"},
		{10000000, "壹拾万元整"},
		{10100000, "壹拾万壹仟元整"}, // 万位 zero before a non-zero 千位: no 零, as 元 before 角
		{10010000, "壹拾万零壹佰元整"},
		{101000000, "壹佰零壹万元整"},
		{10100000000, "壹亿零壹佰万元整"},
		{100010000000000, "壹万零壹亿元整"},
		{12345678, "壹拾贰万叁仟肆佰伍拾陆元柒角捌分"},
		{100000000, "壹佰万元整"},
		{1000000000, "壹仟万元整"},
		{10000000000, "壹亿元整"}, // money.MaxFen
		{10000000100, "壹亿零壹元整"},
		{12000030000, "壹亿贰仟万零叁佰元整"},
		{100001000000, "壹拾亿零壹万元整"},
		{100000000000000, "壹万亿元整"},
		{-650000, "负陆仟伍佰元整"},
		{-5, "负伍分"},
		{-100000, "负壹仟元整"},
	}
	for _, c := range cases {
		if got := Capital(c.fen); got != c.want {
			t.Errorf("Capital(%s) = %s; want %s", c.fen, got, c.want)
		}
	}
}

// Amounts with every digit position and every kind of zero gap read back
// to themselves through an independent parser of the capital form.
func TestCapitalReadsBack(t *testing.T) {
	for _, f := range capitalSamples() {
		if got := parseCapital(t, Capital(f)); got != f {
			t.Fatalf("Capital(%s) = %s reads back as %s", f, Capital(f), got)
		}
	}
}

func capitalSamples() []money.Fen {
	var out []money.Fen
	for _, base := range []money.Fen{0, 1, 10, 100, 1000, 10000, 100000, 1000000, 10000000, 100000000, 1000000000, 10000000000} {
		for _, d := range []money.Fen{1, 2, 9, 10, 11, 101, 1001, 10001, 100001, 1000001} {
			out = append(out, base*d, base*d+5, base*d+40, base+d)
		}
	}
	for f := money.Fen(0); f < 30000; f += 7 {
		out = append(out, f)
	}
	return out
}

// parseCapital reads a capital amount the way a person does: a digit
// multiplies the 拾佰仟 after it, 万 scales the group before it, 亿
// scales everything before it.
func parseCapital(t *testing.T, s string) money.Fen {
	t.Helper()
	digit := map[rune]int64{'壹': 1, '贰': 2, '叁': 3, '肆': 4, '伍': 5, '陆': 6, '柒': 7, '捌': 8, '玖': 9}
	small := map[rune]int64{'拾': 10, '佰': 100, '仟': 1000}
	sign := int64(1)
	var yi, wan, section, cur, yuan, fen int64
	for i, r := range []rune(s) {
		switch {
		case r == '负' && i == 0:
			sign = -1
		case r == '零', r == '整':
		case digit[r] > 0:
			cur = digit[r]
		case small[r] > 0:
			section += cur * small[r]
			cur = 0
		case r == '万':
			wan += (section + cur) * 10000
			section, cur = 0, 0
		case r == '亿':
			yi = (yi + wan + section + cur) * 100000000
			wan, section, cur = 0, 0, 0
		case r == '元':
			yuan = yi + wan + section + cur
			cur = 0
		case r == '角':
			fen += cur * 10
			cur = 0
		case r == '分':
			fen += cur
			cur = 0
		default:
			t.Fatalf("%s: unexpected %c", s, r)
		}
	}
	return money.Fen(sign * (yuan*100 + fen))
}
