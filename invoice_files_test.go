package billow_test

import (
	"bytes"
	"testing"
	"time"

	"github.com/billowhq/billow"
)

// An account's key or portal session sees its own invoices, not another account's, and
// not its own hidden (enterprise) ones; the operator sees all.
func TestInvoiceVisibleTo(t *testing.T) {
	inv := &billow.Invoice{Account: "acct_a"}
	hidden := &billow.Invoice{Account: "acct_a", Hidden: true}
	operator, a, b := billow.Principal{}, billow.Principal{AccountID: "acct_a"}, billow.Principal{AccountID: "acct_b"}
	for _, tc := range []struct {
		inv  *billow.Invoice
		p    billow.Principal
		want bool
	}{{inv, operator, true}, {inv, a, true}, {inv, b, false}, {hidden, operator, true}, {hidden, a, false}, {hidden, b, false}} {
		if got := tc.inv.VisibleTo(tc.p); got != tc.want {
			t.Errorf("%+v visible to %+v = %v", tc.inv, tc.p, got)
		}
	}
}

// The CSV export writes days in the account's zone, costs in major units and keeps a
// spreadsheet from reading a formula.
func TestWriteInvoicesCSV(t *testing.T) {
	ny, _ := time.LoadLocation("America/New_York")
	var b bytes.Buffer
	err := billow.WriteInvoicesCSV(&b, []*billow.Invoice{{ID: "inv_1", OrderID: "=cmd()", Number: "INV-1", Currency: "USD", CurrencyDigits: 2,
		TotalMinor: 123450, BillingDate: time.Date(2026, 1, 15, 3, 0, 0, 0, time.UTC), PaymentMethod: "Visa •••• 4242",
		PaymentStatus: billow.PaymentSucceeded}}, ny)
	want := "Order ID,Billing Date,Cost,Payment Method,Payment Status,Invoice Number,Currency\n'=cmd(),2026-01-14,1234.50,Visa •••• 4242,succeeded,INV-1,USD\n"
	if err != nil || b.String() != want {
		t.Fatalf("CSV %q, %v", b.String(), err)
	}
}
