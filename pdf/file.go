package pdf

import "github.com/billowhq/billow"

// FileName is the name an invoice's PDF is served under, by the API and by the billing
// portal alike: its number, or its id while it has none.
func FileName(inv *billow.Invoice) string {
	if inv.Number != "" {
		return inv.Number + ".pdf"
	}
	return inv.ID + ".pdf"
}

// FormatMoney shows an amount of minor units as invoices print it ("$1,234.56",
// "-$12.50", "JPY 1,200"), so that a page showing an invoice's amounts agrees with its PDF
// to the character. digits must be 0 to CurrencyDigitsMax.
func FormatMoney(minor int64, currency string, digits int64) string {
	return formatMoney(minor, currency, digits)
}
