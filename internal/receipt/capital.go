package receipt

import (
	"strings"

	"campuspay/internal/money"
)

var (
	capitalDigits = []string{"零", "壹", "贰", "叁", "肆", "伍", "陆", "柒", "捌", "玖"}
	capitalUnits  = []string{"", "拾", "佰", "仟"}
)

// Capital writes an amount in the capital numerals (大写) that receipts and
// cheques carry beside the figures: 6500.00 → 陆仟伍佰元整, 100.05 →
// 壹佰元零伍分, 10010.10 → 壹万零壹拾元壹角. A gap of zeros is one 零,
// except where only the 亿, 万 or 元 digit is zero before a non-zero next one
// (the payment rules let it go unwritten: 壹拾万壹仟, 壹拾元伍角); 整 closes
// an amount without 角 or 分; negative amounts are prefixed 负.
func Capital(f money.Fen) string {
	var b strings.Builder
	v := uint64(f)
	if f < 0 {
		b.WriteString("负")
		v = uint64(-(f + 1)) + 1 // also right for the smallest int64
	}
	yuan, jiao, fen := v/100, v/10%10, v%10
	if yuan > 0 {
		writeCapitalYuan(&b, yuan)
		b.WriteString("元")
	}
	switch {
	case jiao == 0 && fen == 0:
		if yuan == 0 {
			b.WriteString("零元")
		}
		b.WriteString("整")
	case jiao == 0:
		if yuan > 0 {
			b.WriteString("零")
		}
		b.WriteString(capitalDigits[fen] + "分")
	default:
		b.WriteString(capitalDigits[jiao] + "角")
		if fen > 0 {
			b.WriteString(capitalDigits[fen] + "分")
		}
	}
	return b.String()
}

// writeCapitalYuan writes a positive whole number of yuan: what stands
// before 亿 is itself such a number (so 10001亿 is 壹万零壹亿), what
// follows it, or stands alone, is below 亿.
func writeCapitalYuan(b *strings.Builder, n uint64) {
	const yi = 100000000
	if n >= yi {
		writeCapitalYuan(b, n/yi)
		b.WriteString("亿")
		if n%yi == 0 {
			return
		}
		if n%yi < yi/10 {
			b.WriteString("零")
		}
		n %= yi
	}
	if n >= 10000 {
		writeCapitalGroup(b, n/10000)
		b.WriteString("万")
		if n%10000 == 0 {
			return
		}
		if n%10000 < 1000 {
			b.WriteString("零")
		}
		n %= 10000
	}
	writeCapitalGroup(b, n)
}

// writeCapitalGroup writes 1–9999 with 仟佰拾: a gap of zeros inside is
// one 零, zeros at the end are not written.
func writeCapitalGroup(b *strings.Builder, n uint64) {
	zero := false
	for p, scale := 3, uint64(1000); p >= 0; p, scale = p-1, scale/10 {
		d := n / scale % 10
		switch {
		case d == 0:
			zero = zero || n/scale > 0 // a zero after a written digit
		default:
			if zero {
				b.WriteString("零")
			}
			zero = false
			b.WriteString(capitalDigits[d] + capitalUnits[p])
		}
	}
}
