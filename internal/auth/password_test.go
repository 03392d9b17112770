package auth

import "testing"

func TestPasswordHashRoundTrip(t *testing.T) {
	h, err := HashPassword("Secret123")
	if err != nil {
		t.Fatal(err)
	}
	if !CheckPassword(h, "Secret123") {
		t.Fatal("right password refused")
	}
	if CheckPassword(h, "Secret124") || CheckPassword("", "Secret123") || CheckPassword("$argon2id$x", "a") {
		t.Fatal("wrong password or bad hash accepted")
	}
	h2, _ := HashPassword("Secret123")
	if h == h2 {
		t.Fatal("two hashes of one password share a salt")
	}
}

func TestCheckNewPassword(t *testing.T) {
	cases := map[string]bool{"abc12345": true, "111111": false, "abcdefgh": false, "12345678": false, "ab1": false, "Campus2026": true}
	for pw, ok := range cases {
		if err := CheckNewPassword(pw, "111111"); (err == nil) != ok {
			t.Errorf("%q: %v", pw, err)
		}
	}
}

func TestTokens(t *testing.T) {
	s, h := NewToken()
	if HashToken(s) != h || len(s) < 40 || s == h {
		t.Fatal("token hash mismatch")
	}
}
