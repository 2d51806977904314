package admin

import (
	"net/http"
	"net/url"
)

// wirePage is the content of the wire transfers awaiting clearance.
type wirePage struct {
	Rows  []wireRow
	Full  bool // ListRowsMax rows: there may be more
	Limit int
}

type wireRow struct {
	ID, Account, AccountURL, ExternalID, Kind, Amount, Invoice, Ordered, Waiting string
}

// wireTransfers lists the orders paid by wire transfer that wait for the money
// (GET /admin/wire-transfers), the longest waiting first, each with "Mark received".
func (h *Handler) wireTransfers(w http.ResponseWriter, r *http.Request, v *visit) {
	orders, err := h.store.PendingWireOrders(r.Context(), ListRowsMax)
	if err != nil {
		h.fail(w, r, v, err)
		return
	}
	now := h.clock.Now()
	page := wirePage{Full: len(orders) == ListRowsMax, Limit: ListRowsMax}
	for _, ao := range orders {
		o := ao.Order
		inv := ao.InvoiceNumber
		if inv == "" {
			inv = o.Invoice
		}
		page.Rows = append(page.Rows, wireRow{ID: o.ID, Account: ao.AccountName, ExternalID: ao.AccountExternalID,
			AccountURL: "/admin/accounts/" + url.PathEscape(o.Account), Kind: label(string(o.Kind)),
			Amount: money(o.AmountMinor, o.Currency, ao.CurrencyDigits), Invoice: inv, Ordered: when(o.CreatedAt), Waiting: ago(o.CreatedAt, now)})
	}
	l := layout{Title: "Wire transfers", Section: "wire", Content: &page}
	if id := r.URL.Query().Get("cleared"); id != "" {
		l.Notice = "Wire transfer " + id + " was marked received: its invoice is paid and the order applied."
	}
	h.render(w, r, http.StatusOK, "wire_transfers.html", v, l)
}
