package billow_test

import (
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/billowhq/billow"
)

func fieldsOf(err error) []string {
	e, ok := err.(*billow.Error)
	if !ok {
		return nil
	}
	var out []string
	for _, f := range e.Fields {
		out = append(out, f.Field)
	}
	return out
}

func TestCreateAccountInputValidate(t *testing.T) {
	ok := func() billow.CreateAccountInput {
		return billow.CreateAccountInput{ExternalID: "cust-1", Name: "Customer", Currency: "USD", Timezone: "Europe/Berlin"}
	}
	for _, tc := range []struct {
		name   string
		mutate func(*billow.CreateAccountInput)
		fields []string // nil: valid
	}{
		{"valid", func(*billow.CreateAccountInput) {}, nil},
		{"defaults", func(in *billow.CreateAccountInput) { in.Type, in.Timezone, in.Currency = "", "", "" }, nil},
		{"missing external id", func(in *billow.CreateAccountInput) { in.ExternalID = "" }, []string{"external_id"}},
		{"external id with a space", func(in *billow.CreateAccountInput) { in.ExternalID = "a b" }, []string{"external_id"}},
		{"external id too long", func(in *billow.CreateAccountInput) { in.ExternalID = strings.Repeat("x", 256) }, []string{"external_id"}},
		{"external id of 255 bytes", func(in *billow.CreateAccountInput) { in.ExternalID = strings.Repeat("x", 255) }, nil},
		{"external id like a Billow id", func(in *billow.CreateAccountInput) { in.ExternalID = "acct_x" }, []string{"external_id"}},
		{"name with a control character", func(in *billow.CreateAccountInput) { in.Name = "a\x00b" }, []string{"name"}},
		{"unknown type", func(in *billow.CreateAccountInput) { in.Type = "premium" }, []string{"type"}},
		{"lower-case currency", func(in *billow.CreateAccountInput) { in.Currency = "usd" }, []string{"currency"}},
		{"unknown currency", func(in *billow.CreateAccountInput) { in.Currency = "ABC" }, []string{"currency"}},
		{"euro", func(in *billow.CreateAccountInput) { in.Currency = "EUR" }, nil},
		{"Local time zone", func(in *billow.CreateAccountInput) { in.Timezone = "Local" }, []string{"timezone"}},
		{"unknown time zone", func(in *billow.CreateAccountInput) { in.Timezone = "Europe/Atlantis" }, []string{"timezone"}},
		{"bad email", func(in *billow.CreateAccountInput) { in.BillingContact.Email = "a@" }, []string{"billing_contact.email"}},
		{"named email", func(in *billow.CreateAccountInput) { in.BillingContact.Email = "Ann <ann@x.example>" }, []string{"billing_contact.email"}},
		{"lower-case country", func(in *billow.CreateAccountInput) { in.BillingContact.Address.Country = "fr" }, nil},
		{"unknown country", func(in *billow.CreateAccountInput) { in.BillingContact.Address.Country = "ZZ" }, []string{"billing_contact.address.country"}},
		{"too much metadata", func(in *billow.CreateAccountInput) {
			in.Metadata = map[string]string{}
			for i := range billow.MetadataMaxKeys + 1 {
				in.Metadata[strings.Repeat("k", i+1)] = "v"
			}
		}, []string{"metadata"}},
		{"several problems at once", func(in *billow.CreateAccountInput) { in.ExternalID, in.Type, in.Timezone = "", "x", "Nope/Nope" },
			[]string{"external_id", "type", "timezone"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in := ok()
			tc.mutate(&in)
			in.Normalize()
			err := in.Validate()
			if got := fieldsOf(err); strings.Join(got, ",") != strings.Join(tc.fields, ",") {
				t.Fatalf("fields = %v (%v), want %v", got, err, tc.fields)
			}
			if tc.fields != nil && billow.ErrorCode(err) != billow.CodeValidationFailed {
				t.Fatalf("code = %s", billow.ErrorCode(err))
			}
		})
	}
}

func TestMemberAndAppInputs(t *testing.T) {
	m := billow.CreateMemberInput{Email: " Ann@X.Example ", Role: billow.RoleBilling}
	if err := m.Validate(); err != nil || m.Email != "ann@x.example" {
		t.Fatalf("member = %+v, %v", m, err)
	}
	if err := (&billow.CreateMemberInput{Email: "ann@x.example", Role: "root"}).Validate(); strings.Join(fieldsOf(err), ",") != "role" {
		t.Fatalf("bad role: %v", err)
	}
	if err := (&billow.CreateMemberInput{Role: billow.RoleOwner}).Validate(); strings.Join(fieldsOf(err), ",") != "email" {
		t.Fatalf("missing email: %v", err)
	}
	if !billow.RoleOwner.CanPay() || !billow.RoleBilling.CanPay() || billow.RoleDeveloper.CanPay() || billow.RoleAdmin.CanPay() {
		t.Fatal("only owners and billing members pay")
	}
	if err := (&billow.CreateAppInput{ExternalID: "app_01", Name: "X"}).Validate(); strings.Join(fieldsOf(err), ",") != "external_id" {
		t.Fatalf("app external id like an id: %v", err)
	}
}

func TestIDs(t *testing.T) {
	now := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	a, b := billow.NewID(billow.PrefixAccount, now), billow.NewID(billow.PrefixAccount, now.Add(time.Millisecond))
	if !regexp.MustCompile(`^acct_[0-9a-z]{26}$`).MatchString(a) || a >= b {
		t.Fatalf("ids %s, %s: want the format and creation order", a, b)
	}
	if !billow.IsID(a, billow.PrefixAccount) || billow.IsID("acct_short", billow.PrefixAccount) || billow.IsID(a, billow.PrefixApp) {
		t.Fatal("IsID")
	}
}

func TestSecrets(t *testing.T) {
	seen := map[string]bool{}
	counts := map[rune]int{}
	for range 2000 {
		s := billow.NewSecret(billow.SecretPrefixOperator)
		if !regexp.MustCompile(`^sk_[0-9A-Za-z]{32}$`).MatchString(s) || seen[s] {
			t.Fatalf("secret %q is malformed or repeated", s)
		}
		seen[s] = true
		for _, r := range s[3:] {
			counts[r]++
		}
	}
	// 64,000 characters over 62 symbols: about 1,032 each. Modulo bias would push the
	// first 8 symbols to about 1,290; allow a wide margin for chance, not for bias.
	for r, n := range counts {
		if n < 850 || n > 1220 {
			t.Fatalf("symbol %q appears %d times in 64,000: not uniform", r, n)
		}
	}
	if len(counts) != 62 {
		t.Fatalf("%d symbols used, want 62", len(counts))
	}
	if billow.HashSecret("a") == billow.HashSecret("b") || len(billow.HashSecret("a")) != 64 {
		t.Fatal("HashSecret")
	}
}
