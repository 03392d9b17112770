package importer

import (
	"errors"
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/width"

	"campuspay/internal/money"
)

// Field limits.
const (
	maxStudentNoLen = 32
	maxTextLen      = 64
	quoteLimit      = 40 // runes of a bad value echoed in a message
)

// amountHint is the expected form of an amount, quoted in error messages.
const amountHint = "（应为元，如 5800.00）"

// q quotes a value for a message, shortened if very long.
func q(s string) string {
	if utf8.RuneCountInString(s) > quoteLimit {
		r := []rune(s)
		s = string(r[:quoteLimit]) + "…"
	}
	return fmt.Sprintf("%q", s)
}

// narrow folds full-width ASCII (“２０２６”, “Ｘ”, “．”) to half-width. It is
// applied to code-like cells only (numbers, amounts, flags), never to names.
func narrow(s string) string {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return width.Narrow.String(s)
		}
	}
	return s
}

// checkText validates free text: required or not, at most maxTextLen runes,
// no control, invisible or direction-changing characters and no U+FFFD (a
// sign of a wrongly decoded file).
func checkText(label, s string, required bool) (string, bool) {
	if s == "" {
		if required {
			return label + "不能为空", false
		}
		return "", true
	}
	if !utf8.ValidString(s) || strings.ContainsRune(s, utf8.RuneError) {
		return label + "含有无法识别的字符：" + q(s) + "（文件编码可能不对，请另存为 UTF-8 的 CSV）", false
	}
	if reason := checkHidden(label, s); reason != "" {
		return reason, false
	}
	if n := utf8.RuneCountInString(s); n > maxTextLen {
		return fmt.Sprintf("%s过长：最多 %d 个字，实际 %d 个字", label, maxTextLen, n), false
	}
	return "", true
}

// checkHidden refuses characters a reader of the file cannot see: line
// breaks and other control characters, and Unicode format characters
// (category Cf: zero-width spaces and joiners, U+FEFF inside a cell, and
// the bidirectional controls U+202A–U+202E and U+2066–U+2069 that make
// "张三" display as something else). It names the first one found, or
// returns "".
func checkHidden(label, s string) string {
	for _, r := range s {
		switch {
		case r == '\n' || r == '\r' || r == 0x85 || r == '\u2028' || r == '\u2029' || unicode.IsControl(r):
			return fmt.Sprintf("%s含有换行或控制字符 U+%04X：%s", label, r, q(s))
		case r >= 0xAD && unicode.Is(unicode.Cf, r):
			return fmt.Sprintf("%s含有不可见字符 U+%04X%s：%s，请删除后重新导入", label, r, hiddenName(r), q(s))
		}
	}
	return ""
}

// hiddenName says in words what a common invisible character is.
func hiddenName(r rune) string {
	switch {
	case r == 0x200B:
		return "（零宽空格）"
	case r == 0x200C || r == 0x200D || r == 0x2060:
		return "（零宽连接符）"
	case r == 0xFEFF:
		return "（字节顺序标记 BOM，只允许出现在文件开头）"
	case r == 0x00AD:
		return "（软连字符）"
	case r == 0x061C || r == 0x200E || r == 0x200F || r >= 0x202A && r <= 0x202E || r >= 0x2066 && r <= 0x2069:
		return "（文字方向控制符，可能让内容显示得与实际不同）"
	}
	return ""
}

// flatten turns line breaks and tabs inside a descriptive cell (an Alt+Enter
// in Excel) into single spaces. Names are not flattened: a line break in a
// name is an error.
func flatten(s string) string {
	if !strings.ContainsAny(s, "\r\n\t") {
		return s
	}
	f := strings.FieldsFunc(s, func(r rune) bool { return r == '\r' || r == '\n' || r == '\t' })
	for i := range f {
		f[i] = trimCell(f[i])
	}
	return strings.Join(f, " ")
}

// checkStudentNo validates and normalizes a student number.
func checkStudentNo(s string) (string, string) {
	if s == "" {
		return "", "学号不能为空"
	}
	if reason := checkHidden("学号", s); reason != "" {
		return "", reason
	}
	v := narrow(s)
	if len(v) > maxStudentNoLen {
		return "", "学号过长：" + q(s) + fmt.Sprintf("（最多 %d 位）", maxStudentNoLen)
	}
	for i := 0; i < len(v); i++ {
		c := v[i]
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '-') {
			return "", "学号格式错误：" + q(s) + "（只能包含字母、数字和 -）" + sciHint(v)
		}
	}
	return v, ""
}

// sciHint explains a value Excel turned into scientific notation.
func sciHint(s string) string {
	if strings.Contains(strings.ToUpper(s), "E+") {
		return "；疑似被 Excel 转成了科学计数法，请把该列设为“文本”格式后重新导出"
	}
	return ""
}

// idWeights are the GB 11643-1999 weights of the first 17 digits.
var idWeights = [17]int{7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2}

// idCheckChars maps the weighted sum mod 11 to the check character.
const idCheckChars = "10X98765432"

// idCheckChar returns the GB 11643 check character for the first 17 digits of
// an 18-digit resident identity card number. It panics if first17 is not 17
// ASCII digits.
func idCheckChar(first17 string) byte {
	if len(first17) != 17 {
		panic("importer: idCheckChar needs 17 digits")
	}
	sum := 0
	for i := 0; i < 17; i++ {
		c := first17[i]
		if c < '0' || c > '9' {
			panic("importer: idCheckChar needs 17 digits")
		}
		sum += int(c-'0') * idWeights[i]
	}
	return idCheckChars[sum%11]
}

// checkIDCard validates an optional identity card number; the result has an
// upper-case X.
func checkIDCard(s string) (string, string) {
	if s == "" {
		return "", ""
	}
	if reason := checkHidden("身份证号", s); reason != "" {
		return "", reason
	}
	v := strings.ToUpper(narrow(s))
	allDigits := func(t string) bool {
		for i := 0; i < len(t); i++ {
			if t[i] < '0' || t[i] > '9' {
				return false
			}
		}
		return true
	}
	switch {
	case len(v) == 15 && allDigits(v):
		return v, ""
	case len(v) == 18 && allDigits(v[:17]) && (allDigits(v[17:]) || v[17] == 'X'):
		if idCheckChar(v[:17]) != v[17] {
			hint := "（号码有误，请核对）"
			if strings.HasSuffix(v, "000") {
				hint = "（末尾几位疑似被 Excel 按数字保存改成了 0，请把该列设为“文本”格式后重新录入）"
			}
			return "", "身份证号校验位不正确：" + q(s) + hint
		}
		return v, ""
	}
	return "", "身份证号格式错误：" + q(s) + "（应为 18 位，最后一位可为 X；或 15 位旧号码）" + sciHint(v)
}

// checkPhone validates an optional mainland mobile number: 11 digits starting
// with 1. Spaces and '-' inside and a +86 prefix are tolerated and removed.
func checkPhone(s string) (string, string) {
	if s == "" {
		return "", ""
	}
	if reason := checkHidden("手机号", s); reason != "" {
		return "", reason
	}
	v := narrow(s)
	if strings.ContainsAny(v, " -") {
		v = strings.NewReplacer(" ", "", "-", "").Replace(v)
	}
	if len(v) == 14 && strings.HasPrefix(v, "+86") {
		v = v[3:]
	}
	ok := len(v) == 11 && v[0] == '1'
	for i := 0; ok && i < len(v); i++ {
		ok = v[i] >= '0' && v[i] <= '9'
	}
	if !ok {
		return "", "手机号格式错误：" + q(s) + "（应为 1 开头的 11 位数字）" + sciHint(v)
	}
	return v, ""
}

// checkAmount parses a yuan amount into fen; it must be > 0.
func checkAmount(s string) (money.Fen, string) {
	if s == "" {
		return 0, "应缴金额不能为空" + amountHint
	}
	if reason := checkHidden("应缴金额", s); reason != "" {
		return 0, reason
	}
	v := narrow(s)
	fen, err := money.ParseYuan(v)
	if err == nil {
		if fen <= 0 {
			return 0, "应缴金额必须大于 0：" + q(s) + amountHint
		}
		return fen, ""
	}
	t := strings.TrimSpace(v)
	if strings.HasPrefix(t, "-") {
		if _, err2 := money.ParseYuan(t[1:]); err2 == nil {
			return 0, "应缴金额必须大于 0：" + q(s) + amountHint
		}
	}
	if _, frac, ok := strings.Cut(t, "."); ok && len(frac) > 2 && allASCIIDigits(frac) {
		return 0, "应缴金额最多两位小数（精确到分）：" + q(s) + amountHint
	}
	if errors.Is(err, money.ErrBadAmount) && strings.HasSuffix(err.Error(), "too large") {
		return 0, "应缴金额超出上限（单笔最多 " + money.MaxFen.Yuan() + " 元）：" + q(s)
	}
	return 0, "应缴金额格式错误：" + q(s) + amountHint
}

func allASCIIDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}

// mandatoryWords maps accepted (lower-case) spellings of the mandatory flag.
var mandatoryWords = map[string]bool{
	"是": true, "否": false,
	"true": true, "false": false,
	"1": true, "0": false,
	"y": true, "n": false,
	"yes": true, "no": false,
	"必缴": true, "选缴": false,
}

// checkMandatory parses the mandatory flag; empty means 否.
func checkMandatory(s string) (bool, string) {
	if s == "" {
		return false, ""
	}
	v, ok := mandatoryWords[s] // fast path: 是, 否, 1, 0, …
	if !ok {
		if reason := checkHidden("必缴", s); reason != "" {
			return false, reason
		}
		v, ok = mandatoryWords[strings.ToLower(narrow(s))]
	}
	if !ok {
		return false, "必缴格式错误：" + q(s) + "（应为 是 或 否）"
	}
	return v, ""
}
