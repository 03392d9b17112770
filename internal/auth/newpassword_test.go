package auth

import (
	"errors"
	"strings"
	"testing"
)

func TestCheckNewPassword(t *testing.T) {
	const no, initial = "2025001", "111111"
	cases := []struct {
		name, pw string
		want     error
	}{
		{"a long unusual password", "campus-2026-lemon", nil},
		{"eight characters", "k7#pQ2mz", nil},
		{"Chinese characters count as one each", "我的密码很安全吧", nil},
		{"letters only are fine when uncommon", "violetharbour", nil},
		{"seven characters", "k7#pQ2m", ErrPasswordTooShort},
		{"the initial password", "111111", ErrPasswordTooShort},
		{"sixty-five characters", strings.Repeat("x7", 32) + "y", ErrPasswordTooLong},
		{"a tab inside", "campus\t2026pay", ErrPasswordBadChars},
		{"a right-to-left override", "campus\u202e2026pay", ErrPasswordBadChars},
		{"invalid UTF-8", "campus\xff2026pay", ErrPasswordBadChars},
		{"the student number", "2025001x", ErrPasswordHasStudentNo},
		{"the student number inside", "pay2025001now", ErrPasswordHasStudentNo},
		{"the student number in full-width digits", "ab２０２５００１cd", ErrPasswordHasStudentNo},
		{"a common password", "12345678", ErrPasswordCommon},
		{"a common password in capitals", "PASSWORD1", ErrPasswordCommon},
		{"a common password in full-width", "ｑｑ１２３４５６", ErrPasswordCommon},
		{"123456789", "123456789", ErrPasswordCommon},
		{"88888888", "88888888", ErrPasswordCommon},
		{"a12345678", "a12345678", ErrPasswordCommon},
		{"woaini1314", "WoAiNi1314", ErrPasswordCommon},
		{"1qaz2wsx", "1qaz2wsx", ErrPasswordCommon},
		{"abc123456", "abc123456", ErrPasswordCommon},
		{"iloveyou", "iloveyou", ErrPasswordCommon},
		{"zxcvbnm123", "zxcvbnm123", ErrPasswordCommon},
		{"a keyboard walk", "1q2w3e4r5t", ErrPasswordCommon},
		{"a birthday", "19990101", ErrPasswordCommon},
		{"the new millennium", "20000101", ErrPasswordCommon},
		{"a leap day", "20000229", ErrPasswordCommon},
		{"a Western date", "12251987", ErrPasswordCommon},
		{"a long run", "abcdefghij", ErrPasswordCommon},
		{"a falling run", "98765432", ErrPasswordCommon},
		{"a repeated unit", "52105210", ErrPasswordCommon},
		{"one repeated Chinese character", "哈哈哈哈哈哈哈哈", ErrPasswordCommon},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := CheckNewPassword(c.pw, no, initial)
			if !errors.Is(err, c.want) {
				t.Fatalf("CheckNewPassword(%q) = %v, want %v", c.pw, err, c.want)
			}
		})
	}

	t.Run("an initial password of eight characters is refused as such", func(t *testing.T) {
		if err := CheckNewPassword("x2345678", no, "x2345678"); err != ErrPasswordIsInitial {
			t.Fatal(err)
		}
	})
	t.Run("a short student number only refuses itself", func(t *testing.T) {
		if err := CheckNewPassword("violet7harbour", "7", initial); err != nil {
			t.Fatalf("a password containing the 1-character number 7 refused: %v", err)
		}
		if err := CheckNewPassword("ab-12", "ab-12", initial); err != ErrPasswordTooShort {
			t.Fatal(err)
		}
		if err := CheckNewPassword("xy-1234z", "Y-1234Z", initial); err != ErrPasswordHasStudentNo {
			t.Fatalf("letters of a student number compared case-sensitively: %v", err)
		}
	})
	t.Run("dates outside 1950-2030 and impossible dates pass the date rule", func(t *testing.T) {
		for _, s := range []string{"20310101", "19491231", "20230229", "19991301", "19990132"} {
			if isDate8(s) {
				t.Errorf("isDate8(%q)", s)
			}
		}
	})
	t.Run("every refusal explains itself in Chinese", func(t *testing.T) {
		for _, err := range []error{ErrPasswordTooShort, ErrPasswordTooLong, ErrPasswordBadChars, ErrPasswordIsInitial, ErrPasswordHasStudentNo, ErrPasswordCommon} {
			if !strings.ContainsAny(err.Error(), "密码") {
				t.Errorf("%q", err)
			}
		}
		if ErrPasswordTooShort.Error() != "新密码至少 8 位" || ErrPasswordHasStudentNo.Error() != "新密码不能包含学号" ||
			ErrPasswordCommon.Error() != "这个密码太常见，容易被猜到，请换一个" {
			t.Error("messages changed")
		}
		if PasswordRule() != "新密码：至少 8 位；不能包含学号；不能使用常见密码（如 12345678）" || ErrWeakPassword.Error() != PasswordRule() {
			t.Errorf("rule %q", PasswordRule())
		}
	})
}

func TestCommonPasswordList(t *testing.T) {
	if n := len(commonPasswords); n < 2000 || n > 5000 {
		t.Fatalf("%d common passwords, want a few thousand", n)
	}
	for pw := range commonPasswords {
		if pw != strings.ToLower(pw) || len(pw) < MinPasswordLen || len(pw) > MaxPasswordLen || strings.TrimSpace(pw) != pw {
			t.Errorf("list entry %q is not lower-case, trimmed, 8-64 characters", pw)
		}
	}
	for _, pw := range []string{"123456789", "12345678", "88888888", "11111111", "a12345678", "qq123456", "woaini1314",
		"1qaz2wsx", "password1", "abc123456", "iloveyou", "zxcvbnm123", "password", "qwertyuiop", "1234qwer"} {
		if !IsCommonPassword(pw) {
			t.Errorf("%q not refused as common", pw)
		}
	}
}
