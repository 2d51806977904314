package admin

import (
	"net/http"
	"net/url"
)

// failedPage is the content of the failed payments.
type failedPage struct {
	Rows  []failedRow
	Full  bool // ListRowsMax rows: there may be more
	Limit int
}

type failedRow struct {
	ID, When, Account, AccountURL, ExternalID, Invoice, Amount, Method, Decline, Message string
	InvoiceStatus                                                                        badge
}

// failedPayments lists the declined payment attempts, the latest first
// (GET /admin/failed-payments), with each invoice's status now: "Paid" says a later
// attempt, or the customer, recovered it; "Open" that it is still owed.
func (h *Handler) failedPayments(w http.ResponseWriter, r *http.Request, v *visit) {
	rows, err := h.store.FailedPayments(r.Context(), ListRowsMax)
	if err != nil {
		h.fail(w, r, v, err)
		return
	}
	page := failedPage{Full: len(rows) == ListRowsMax, Limit: ListRowsMax}
	for _, fp := range rows {
		p := fp.Payment
		row := failedRow{ID: p.ID, When: when(p.UpdatedAt), Account: fp.AccountName, ExternalID: fp.AccountExternalID,
			AccountURL: "/admin/accounts/" + url.PathEscape(p.Account), Invoice: fp.InvoiceNumber,
			Amount: money(p.AmountMinor, p.Currency, fp.CurrencyDigits), Method: fp.MethodLabel, Decline: p.DeclineCode, Message: p.Message,
			InvoiceStatus: statusBadge(string(fp.InvoiceStatus))}
		if row.Invoice == "" {
			row.Invoice = p.Invoice
		}
		if row.Method == "" {
			row.Method = dash
		}
		if row.Decline == "" {
			row.Decline = dash
		}
		page.Rows = append(page.Rows, row)
	}
	h.render(w, r, http.StatusOK, "failed_payments.html", v, layout{Title: "Failed payments", Section: "failed", Content: &page})
}
