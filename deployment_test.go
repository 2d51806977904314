package billow_test

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/billowhq/billow"
)

func TestCanDeploy(t *testing.T) {
	now := time.Date(2026, time.March, 1, 12, 0, 0, 0, time.UTC)
	past, future := now.Add(-time.Second), now.Add(time.Hour)
	grant := func(kind billow.GrantKind, remainingUcr int64, expires *time.Time) billow.Grant {
		return billow.Grant{ID: "grant_" + string(kind), Kind: kind, AmountUcr: 5_000_000, RemainingUcr: remainingUcr, ExpiresAt: expires}
	}
	for _, tc := range []struct {
		name    string
		wallet  *billow.Wallet
		allowed bool
	}{
		{"no wallet", nil, false},
		{"empty wallet", &billow.Wallet{}, false},
		{"free credits remain", &billow.Wallet{Grants: []billow.Grant{grant(billow.GrantFree, 1, nil)}}, true},
		{"free credits exhausted", &billow.Wallet{Grants: []billow.Grant{grant(billow.GrantFree, 0, nil)}}, false},
		{"free credits exhausted, paid available", &billow.Wallet{Grants: []billow.Grant{
			grant(billow.GrantFree, 0, nil), grant(billow.GrantPaid, 3_000_000, nil)}}, true},
		{"paid credits only", &billow.Wallet{Grants: []billow.Grant{grant(billow.GrantPaid, 1, nil)}}, true},
		{"paid credits spent", &billow.Wallet{Grants: []billow.Grant{grant(billow.GrantPaid, 0, nil)}}, false},
		{"promotional credits count", &billow.Wallet{Grants: []billow.Grant{grant(billow.GrantPromotional, 1, &future)}}, true},
		{"expired promotional credits do not", &billow.Wallet{Grants: []billow.Grant{grant(billow.GrantPromotional, 5_000_000, &past)}}, false},
		{"expiring exactly now does not", &billow.Wallet{Grants: []billow.Grant{grant(billow.GrantFree, 5_000_000, &now)}}, false},
		{"expired free, unexpired paid", &billow.Wallet{Grants: []billow.Grant{
			grant(billow.GrantFree, 5_000_000, &past), grant(billow.GrantPaid, 1, &future)}}, true},
		{"unknown kind does not count", &billow.Wallet{Grants: []billow.Grant{grant("gift", 5_000_000, nil)}}, false},
		{"negative remaining does not count", &billow.Wallet{Grants: []billow.Grant{grant(billow.GrantPaid, -1, nil)}}, false},
		{"overdrawn wallet", &billow.Wallet{OverdrawnUcr: 1, Grants: []billow.Grant{grant(billow.GrantPaid, 1_000_000, nil)}}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := billow.CanDeploy(tc.wallet, now)
			if tc.allowed && err != nil {
				t.Fatalf("refused: %v", err)
			}
			if !tc.allowed && (billow.ErrorCode(err) != billow.CodeCreditsExhausted || billow.ErrorKindOf(err) != billow.KindConflict) {
				t.Fatalf("error = %v, want a conflict with code %s", err, billow.CodeCreditsExhausted)
			}
		})
	}
}

func TestDeploymentInputsValidate(t *testing.T) {
	long := strings.Repeat("x", billow.DeploymentNoteMaxBytes+1)
	for _, tc := range []struct {
		name     string
		validate func() error
		fields   []string // nil: valid
	}{
		{"request", func() error {
			return (&billow.RequestDeploymentInput{App: "bot", RequestedBy: "mem_01", Note: "v2 with the new prompt"}).Validate()
		}, nil},
		{"request without app or member", func() error { return (&billow.RequestDeploymentInput{}).Validate() }, []string{"app", "requested_by"}},
		{"request with spaces in the app", func() error {
			return (&billow.RequestDeploymentInput{App: "my bot", RequestedBy: "dev"}).Validate()
		}, []string{"app"}},
		{"request with a long note", func() error {
			return (&billow.RequestDeploymentInput{App: "bot", RequestedBy: "dev", Note: long}).Validate()
		}, []string{"note"}},
		{"request with a note of the limit", func() error {
			return (&billow.RequestDeploymentInput{App: "bot", RequestedBy: "dev", Note: long[1:]}).Validate()
		}, nil},
		{"request with a control character", func() error {
			return (&billow.RequestDeploymentInput{App: "bot", RequestedBy: "dev", Note: "a\x00b"}).Validate()
		}, []string{"note"}},
		{"approve without a reason", func() error { return (&billow.ApproveDeploymentInput{DecidedBy: "admin"}).Validate() }, nil},
		{"approve without a member", func() error { return (&billow.ApproveDeploymentInput{Reason: "ok"}).Validate() }, []string{"decided_by"}},
		{"approve with a long reason", func() error {
			return (&billow.ApproveDeploymentInput{DecidedBy: "admin", Reason: long}).Validate()
		}, []string{"reason"}},
		{"reject", func() error {
			return (&billow.RejectDeploymentInput{DecidedBy: "admin", Reason: "not before the audit"}).Validate()
		}, nil},
		{"reject without a reason", func() error { return (&billow.RejectDeploymentInput{DecidedBy: "admin", Reason: "  "}).Validate() }, []string{"reason"}},
		{"reject with nothing", func() error { return (&billow.RejectDeploymentInput{}).Validate() }, []string{"decided_by", "reason"}},
		{"filter", func() error {
			return (&billow.DeploymentFilter{Status: billow.DeploymentApproved, App: "bot"}).Validate()
		}, nil},
		{"empty filter", func() error { return (&billow.DeploymentFilter{}).Validate() }, nil},
		{"filter of an unknown status", func() error { return (&billow.DeploymentFilter{Status: "done"}).Validate() }, []string{"status"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.validate()
			if got := fieldsOf(err); !slices.Equal(got, tc.fields) {
				t.Fatalf("invalid fields = %v (%v), want %v", got, err, tc.fields)
			}
			if tc.fields != nil && billow.ErrorCode(err) != billow.CodeValidationFailed {
				t.Fatalf("code = %s", billow.ErrorCode(err))
			}
		})
	}
}
