package admin

import (
	"strings"
	"testing"
)

// A known answer: the argon2id vector of the reference implementation (password
// "password", salt "somesalt", t=2, m=64 KiB, p=1, 24 bytes; also in x/crypto's tests),
// written as the PHC string the reference CLI prints. VerifyPassword must read the
// parameters, salt and length from the string.
const knownHash = "$argon2id$v=19$m=64,t=2,p=1$c29tZXNhbHQ$Bo1ismRVk2qm6+YAYLCmWHDb+j3fjUH3"

func TestAdminPasswordKnownAnswer(t *testing.T) {
	ok, err := VerifyPassword(knownHash, "password")
	if err != nil || !ok {
		t.Fatalf("the reference vector: %v, %v", ok, err)
	}
	if ok, err := VerifyPassword(knownHash, "Password"); err != nil || ok {
		t.Fatalf("another password: %v, %v", ok, err)
	}
}

func TestAdminPasswordRoundTrip(t *testing.T) {
	h := HashPassword("correct horse battery staple")
	if !strings.HasPrefix(h, "$argon2id$v=19$m=19456,t=2,p=1$") {
		t.Fatalf("hash %q", h)
	}
	if h2 := HashPassword("correct horse battery staple"); h2 == h {
		t.Fatal("two hashes of one password share a salt")
	}
	if ok, err := VerifyPassword(h, "correct horse battery staple"); err != nil || !ok {
		t.Fatalf("the password: %v, %v", ok, err)
	}
	for _, wrong := range []string{"", "correct horse battery stapl", "correct horse battery staple ", "Correct horse battery staple"} {
		if ok, err := VerifyPassword(h, wrong); err != nil || ok {
			t.Errorf("%q: %v, %v", wrong, ok, err)
		}
	}
}

// A changed hash, salt or parameter no longer verifies; an unreadable or greedy string
// is an error, found before any hashing.
func TestAdminPasswordTamper(t *testing.T) {
	parts := strings.Split(knownHash, "$")
	flip := func(s string) string { // change the first character, staying base64
		if s[0] == 'A' {
			return "B" + s[1:]
		}
		return "A" + s[1:]
	}
	for name, h := range map[string]string{
		"hash":   strings.Join([]string{"", parts[1], parts[2], parts[3], parts[4], flip(parts[5])}, "$"),
		"salt":   strings.Join([]string{"", parts[1], parts[2], parts[3], flip(parts[4]), parts[5]}, "$"),
		"passes": strings.Replace(knownHash, "t=2", "t=3", 1),
		"memory": strings.Replace(knownHash, "m=64", "m=128", 1),
	} {
		if ok, err := VerifyPassword(h, "password"); ok || err != nil {
			t.Errorf("tampered %s: %v, %v", name, ok, err)
		}
	}
	for _, bad := range []string{
		"",
		"password",
		strings.Replace(knownHash, "argon2id", "argon2i", 1),
		strings.Replace(knownHash, "v=19", "v=16", 1),
		strings.Replace(knownHash, "m=64,t=2,p=1", "m=64,t=2", 1),
		strings.Replace(knownHash, "m=64", "m=4194304", 1), // 4 GiB
		strings.Replace(knownHash, "t=2", "t=1000", 1),
		strings.Replace(knownHash, "p=1", "p=0", 1),
		strings.Replace(knownHash, "m=64", "m=x", 1),
		strings.Replace(knownHash, "c29tZXNhbHQ", "c29t", 1), // a 3-byte salt
		strings.Replace(knownHash, "c29tZXNhbHQ", "!!!!", 1), // not base64
		knownHash + "$extra",
	} {
		if ok, err := VerifyPassword(bad, "password"); ok || err == nil {
			t.Errorf("%q: %v, %v; want an error", bad, ok, err)
		}
	}
}
