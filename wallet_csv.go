package billow

import (
	"encoding/csv"
	"io"
	"strconv"
	"time"
)

// The wallet's movements leave Billow as the JSON of the API and as the CSV export that
// GET /v1/accounts/{account}/transactions.csv and the billing portal's Credits page both
// serve: what a row says is decided here once.

// TransactionsCSVRangeMax bounds the range of one transactions export: a year, leap day
// included.
const TransactionsCSVRangeMax = 366 * 24 * time.Hour

// TransactionsCSVHeader is the header of the transactions export.
var TransactionsCSVHeader = []string{"Date", "Transaction ID", "Description", "Credits", "Value", "Currency", "Balance after"}

// WriteTransactionsCSV writes the transactions export, one row per movement in the order
// given: Date (RFC 3339, UTC), Transaction ID, Description, Credits (+ added, − spent,
// every digit), Value (in the currency, every digit), Currency, Balance after (credits).
// Text a caller chose is written with CSVText.
func WriteTransactionsCSV(w io.Writer, txs []*WalletTransaction) error {
	cw := csv.NewWriter(w)
	cw.Write(TransactionsCSVHeader)
	for _, t := range txs {
		cw.Write([]string{t.At.UTC().Format(time.RFC3339), CSVText(t.ID), CSVText(t.Description), t.Credits, t.Value, t.Currency,
			t.BalanceAfter})
	}
	cw.Flush()
	return cw.Error()
}

// TransactionsCSVFileName names the export of an account's movements from a time on:
// "transactions-<external id>-<year of from>.csv".
func TransactionsCSVFileName(a *Account, from time.Time) string {
	return "transactions-" + a.ExternalID + "-" + strconv.Itoa(from.Year()) + ".csv"
}
