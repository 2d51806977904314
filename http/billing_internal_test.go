package http

import (
	"crypto/sha256"
	"encoding/hex"
	"math"
	"net/http/httptest"
	"strings"
	"testing"
)

// TestMajorUnits formats costs for the invoice CSV in integers, with each currency's
// digits.
func TestMajorUnits(t *testing.T) {
	for _, tc := range []struct {
		minor, digits int64
		want          string
	}{
		{123450, 2, "1234.50"},
		{5, 2, "0.05"},
		{0, 2, "0.00"},
		{-2500, 2, "-25.00"},
		{500, 0, "500"}, // JPY
		{1234, 3, "1.234"},
		{math.MaxInt64, 2, "92233720368547758.07"},
		{math.MinInt64, 2, "-92233720368547758.08"},
	} {
		got, err := majorUnits(tc.minor, tc.digits)
		if err != nil || got != tc.want {
			t.Errorf("majorUnits(%d, %d) = %q, %v; want %q", tc.minor, tc.digits, got, err, tc.want)
		}
	}
	if _, err := majorUnits(1, 5); err == nil {
		t.Error("5 currency digits accepted")
	}
}

// TestRequestHashKeyed: the value stored with an Idempotency-Key is keyed with the
// caller's credential, so that it cannot be checked against guessed card numbers by
// whoever reads the database, and still matches the same caller's retry.
func TestRequestHashKeyed(t *testing.T) {
	body := []byte(`{"kind":"card","card":{"number":"4242424242424242","exp_month":12,"exp_year":2030,"cvc":"123"}}`)
	req := func(key string) string {
		r := httptest.NewRequest("POST", "/v1/accounts/acme/payment_methods", nil)
		r.Header.Set("Authorization", "Bearer "+key)
		return requestHash(r, body)
	}
	plain := sha256.Sum256([]byte("POST /v1/accounts/acme/payment_methods?\n" + string(body)))
	a := req("ak_one")
	if a != req("ak_one") {
		t.Fatal("the same request hashes differently")
	}
	if a == req("ak_two") || a == hex.EncodeToString(plain[:]) || strings.Contains(a, "4242") {
		t.Fatalf("the request hash is not keyed: %s", a)
	}
}
