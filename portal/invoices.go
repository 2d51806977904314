package portal

import (
	"net/http"
	"net/url"
	"time"

	"github.com/billowhq/billow"
	"github.com/billowhq/billow/sqlstore"
)

// invoicesPage is the Invoices page (GET /portal/invoices): seed 000's list, in
// chronological order with Order ID, Billing Date, Cost, Payment Method and Payment
// Status, each invoice's PDF, Pay now on an open invoice for those who may pay, and the
// CSV export of a date range. Enterprise accounts' invoices are the operator's (seed 000):
// the page says so instead of listing them, as the API does not list them.
type invoicesPage struct {
	Enterprise  bool
	Operator    string
	Rows        []invoiceRow
	From, To    string // the export's default range, YYYY-MM-DD
	CSVError    string
	Outstanding string // the total of the open invoices, when there are some
}

type invoiceRow struct {
	ID, Number, OrderID string
	Date                string
	Cost                string
	Method              string
	Status, Tone        string
	PDF                 string
	Payable             bool
	PayURL              string
	Highlight           bool
}

func (h *Handler) invoices(w http.ResponseWriter, r *http.Request, v *visit) {
	h.invoicesPage(w, r, v, http.StatusOK, "")
}

// invoicesPage renders the page with status; csvError says why an export was refused.
func (h *Handler) invoicesPage(w http.ResponseWriter, r *http.Request, v *visit, status int, csvError string) {
	a := v.account
	l := layout{Title: "Invoices", Section: "invoices"}
	p := &invoicesPage{Enterprise: a.Type == billow.AccountEnterprise, Operator: h.brand.Name, CSVError: csvError}
	l.Content = p
	if p.Enterprise {
		h.render(w, r, status, "invoices.html", v, l)
		return
	}
	loc, err := h.zone(a.Timezone)
	if err != nil {
		h.fail(w, r, v, err)
		return
	}
	invs, err := h.store.Invoices(r.Context(), sqlstore.InvoiceFilter{AccountID: a.ID, IncludeHidden: false})
	if err != nil {
		h.fail(w, r, v, err)
		return
	}
	q := r.URL.Query()
	var outstanding int64
	var currency string
	var digits int64
	for _, inv := range invs {
		if !inv.VisibleTo(v.principal()) {
			continue // the filter left out hidden invoices; the rule is checked all the same
		}
		status, tone := paymentStatus(inv)
		row := invoiceRow{ID: inv.ID, Number: inv.Number, OrderID: inv.OrderID, Date: formatDate(inv.BillingDate, loc),
			Cost: money(inv.TotalMinor, inv.Currency, inv.CurrencyDigits), Method: inv.PaymentMethod, Status: status, Tone: tone,
			PDF: "/portal/invoices/" + url.PathEscape(inv.ID) + "/pdf", Payable: payable(inv),
			PayURL: "/portal/invoices/" + url.PathEscape(inv.ID) + "/pay", Highlight: q.Get("invoice") == inv.ID}
		if row.Method == "" {
			row.Method = dash
		}
		if row.Payable {
			outstanding += inv.TotalMinor
			currency, digits = inv.Currency, inv.CurrencyDigits
		}
		p.Rows = append(p.Rows, row)
	}
	if outstanding > 0 {
		p.Outstanding = money(outstanding, currency, digits)
	}
	now := h.clock.Now()
	p.To = isoDate(now, loc)
	p.From = isoDate(now.AddDate(-1, 0, 0), loc)
	if len(invs) > 0 {
		p.From = isoDate(invs[0].BillingDate, loc)
	}
	switch q.Get("result") {
	case "paid":
		l.Notice = "Thank you: the invoice is paid."
	case "declined":
		l.Error = "The payment was declined and the invoice is still open. Check the card with its bank, or try again later."
	case "no_method":
		l.Error = "There is no default payment method to pay with. Add one, then pay the invoice."
	case "not_payable":
		l.Error = "This invoice cannot be paid now: it is paid already, or a payment for it is still being processed."
	}
	h.render(w, r, status, "invoices.html", v, l)
}

// paymentStatus names how an invoice's payment stands, for a customer.
func paymentStatus(inv *billow.Invoice) (string, string) {
	switch inv.Status {
	case billow.InvoiceVoid:
		return "Void", "neutral"
	case billow.InvoiceUncollectible:
		return "Uncollectible", "bad"
	case billow.InvoicePaid:
		return "Paid", "ok"
	}
	switch inv.PaymentStatus {
	case billow.PaymentPending:
		return "Pending clearance", "info"
	case billow.PaymentFailed:
		return "Payment failed", "bad"
	case billow.PaymentUnknown:
		return "Processing", "info"
	case billow.PaymentExternal:
		return "Invoiced separately", "neutral"
	case billow.PaymentSucceeded:
		return "Paid", "ok"
	}
	return "Awaiting payment", "warn"
}

// payable reports whether Pay now applies: an open invoice Billow collects, with no
// payment under way (the rule of billing.PayInvoice, which refuses the others).
func payable(inv *billow.Invoice) bool {
	return inv.Status == billow.InvoiceOpen && (inv.PaymentStatus == billow.PaymentNone || inv.PaymentStatus == billow.PaymentFailed)
}

// invoiceLink is where emails send a customer for one invoice
// (GET /portal/invoices/{invoice}): the list, with that invoice marked.
func (h *Handler) invoiceLink(w http.ResponseWriter, r *http.Request, v *visit) {
	inv, err := h.visibleInvoice(r, v)
	if err != nil {
		h.fail(w, r, v, err)
		return
	}
	redirect(w, r, "/portal/invoices?invoice="+url.QueryEscape(inv.ID)+"#"+inv.ID)
}

// visibleInvoice reads the invoice the path names, if the visit may see it: one of its
// account's that is not hidden (billow.Invoice.VisibleTo, the API's rule). Anything
// else is not found, exactly like an invoice that does not exist.
func (h *Handler) visibleInvoice(r *http.Request, v *visit) (*billow.Invoice, error) {
	id := r.PathValue("invoice")
	inv, err := h.store.Invoice(r.Context(), id)
	if err != nil {
		return nil, err
	}
	if !inv.VisibleTo(v.principal()) {
		return nil, billow.NotFound("invoice", id)
	}
	return inv, nil
}

// exportRange reads the dates of the CSV form: days of the account's time zone, both
// included, at most billow.InvoiceCSVRangeDaysMax apart.
func exportRange(q url.Values, loc *time.Location) (from, to time.Time, problem string) {
	from, err1 := time.ParseInLocation(time.DateOnly, q.Get("from"), loc)
	to, err2 := time.ParseInLocation(time.DateOnly, q.Get("to"), loc)
	switch {
	case err1 != nil || err2 != nil:
		return from, to, "Choose the first and the last billing date to export."
	case to.Before(from):
		return from, to, "The last date of the export is before its first."
	}
	to = to.AddDate(0, 0, 1)
	if to.Sub(from) > billow.InvoiceCSVRangeDaysMax*24*time.Hour {
		return from, to, "An export covers at most ten years; choose a shorter range."
	}
	return from, to, ""
}
