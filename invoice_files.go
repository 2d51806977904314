package billow

import (
	"encoding/csv"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
)

// An invoice leaves Billow in three forms: the JSON of the API, the PDF (package pdf) and
// a row of the CSV export. The API and the billing portal serve the same files to the
// same people: who may see an invoice, and what its CSV row says, is decided here once.

// VisibleTo reports whether p may see the invoice: the operator sees every invoice; an
// account's key or portal session sees its own account's, except the hidden invoices of
// an enterprise account, which are the operator's (seed 000). A caller answers "not
// found" for an invoice p may not see, exactly as for one that does not exist.
func (inv *Invoice) VisibleTo(p Principal) bool {
	return p.CanSee(inv.Account) && (!inv.Hidden || p.IsOperator())
}

// InvoiceCSVHeader is the header of the invoice export: seed 000's columns, then the
// invoice number and the currency the cost is in.
var InvoiceCSVHeader = []string{"Order ID", "Billing Date", "Cost", "Payment Method", "Payment Status", "Invoice Number", "Currency"}

// WriteInvoicesCSV writes the invoice export, one row per invoice in the order given:
// Order ID, Billing Date (YYYY-MM-DD in loc, the account's time zone), Cost (the total in
// major units, such as 1234.50), Payment Method, Payment Status, Invoice Number, Currency.
func WriteInvoicesCSV(w io.Writer, invs []*Invoice, loc *time.Location) error {
	cw := csv.NewWriter(w)
	cw.Write(InvoiceCSVHeader)
	for _, inv := range invs {
		cost, err := MajorUnits(inv.TotalMinor, inv.CurrencyDigits)
		if err != nil {
			return fmt.Errorf("billow: invoice %s: %w", inv.ID, err)
		}
		cw.Write([]string{CSVText(inv.OrderID), inv.BillingDate.In(loc).Format(time.DateOnly), cost, CSVText(inv.PaymentMethod),
			string(inv.PaymentStatus), CSVText(inv.Number), inv.Currency})
	}
	cw.Flush()
	return cw.Error()
}

// CSVText keeps a spreadsheet from reading text a caller chose (descriptions, ids) as a
// formula: a cell beginning with =, +, - or @ is prefixed with an apostrophe.
func CSVText(s string) string {
	if s != "" && (s[0] == '=' || s[0] == '+' || s[0] == '-' || s[0] == '@') {
		return "'" + s
	}
	return s
}

// currencyDigitsMax bounds the fractional digits of a currency: ISO 4217 has none with
// more than four.
const currencyDigitsMax = 4

// MajorUnits writes an amount in minor units as a decimal in major units with the
// currency's digits (123450, 2 → "1234.50"; 500, 0 → "500"), in integers only.
func MajorUnits(minor, digits int64) (string, error) {
	if digits < 0 || digits > currencyDigitsMax {
		return "", fmt.Errorf("currency digits %d out of 0..%d", digits, currencyDigitsMax)
	}
	// The magnitude as uint64 also holds -math.MinInt64.
	mag := uint64(minor)
	if minor < 0 {
		mag = uint64(^minor) + 1
	}
	unit := uint64(1)
	for range digits {
		unit *= 10
	}
	s := strconv.FormatUint(mag/unit, 10)
	if digits > 0 {
		frac := strconv.FormatUint(mag%unit, 10)
		s += "." + strings.Repeat("0", int(digits)-len(frac)) + frac
	}
	if minor < 0 {
		s = "-" + s
	}
	return s, nil
}

// InvoicesCSVFileName is the name the invoice export of an account is served under.
func InvoicesCSVFileName(a *Account) string { return "invoices-" + a.ExternalID + ".csv" }
