package admin

import (
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/billowhq/billow"
	"github.com/billowhq/billow/catalog"
	"github.com/billowhq/billow/sqlstore"
)

// accountOrdersMax is how many of an account's latest orders its page lists.
const accountOrdersMax = 10

// accountPage is the content of an account's page.
type accountPage struct {
	Account      *billow.Account
	Type         string
	Contact      string
	Subscription *subscriptionView // nil without one
	Wallet       walletView
	Invoices     []invoiceRow
	InvoicesMore int // invoices older than those listed
	Usage        []usageRow
	UsagePeriod  string
	Orders       []orderRow
	Self         string // this page's path, where a form's redirect returns
}

type subscriptionView struct {
	Plan, Interval, Period, AddOns, Note string
	Status                               badge
}

type walletView struct {
	Balance, Held, Overdrawn string
	Kinds                    []grantKindRow
}

type grantKindRow struct {
	Kind    string
	Credits string
	Grants  int
}

type invoiceRow struct {
	ID, Number, Date, Total, Method, PDF string
	Status, Payment                      badge
	Hidden                               bool
}

type usageRow struct{ Name, Value string }

type orderRow struct {
	ID, Kind, Amount, Created string
	Status                    badge
	// Clearable: a wire transfer awaiting clearance, which "Mark received" settles.
	Clearable bool
}

// account shows one account (GET /admin/accounts/{account}, by id or external id): its
// subscription, wallet by grant kind, latest invoices with their PDFs, latest orders
// (a wire transfer among them can be marked received here) and this period's usage.
func (h *Handler) account(w http.ResponseWriter, r *http.Request, v *visit) {
	ctx := r.Context()
	a, err := h.store.Account(ctx, r.PathValue("account"))
	if err != nil {
		h.fail(w, r, v, err)
		return
	}
	loc, err := time.LoadLocation(a.Timezone)
	if err != nil {
		loc = time.UTC // validated when stored; a zone the binary lost is no reason to fail the page
	}
	cat, err := h.store.AccountCatalog(ctx, a)
	if err != nil {
		h.fail(w, r, v, err)
		return
	}
	page := accountPage{Account: a, Type: label(string(a.Type)), Contact: contactLine(a.BillingContact), Self: "/admin/accounts/" + url.PathEscape(a.ID)}

	sub, err := h.store.LiveSubscription(ctx, a.ID)
	switch {
	case err == nil:
		page.Subscription = subscriptionOf(sub, cat, loc)
	case billow.ErrorKindOf(err) != billow.KindNotFound:
		h.fail(w, r, v, err)
		return
	}

	wallet, err := h.store.Wallet(ctx, a.ID)
	if err != nil {
		h.fail(w, r, v, err)
		return
	}
	page.Wallet = walletOf(wallet)

	// The operator sees every invoice: drafts (orders awaiting payment) and an enterprise
	// account's hidden ones too.
	invs, err := h.store.Invoices(ctx, sqlstore.InvoiceFilter{AccountID: a.ID, IncludeHidden: true, IncludeDrafts: true})
	if err != nil {
		h.fail(w, r, v, err)
		return
	}
	if n := len(invs); n > AccountInvoicesMax {
		page.InvoicesMore, invs = n-AccountInvoicesMax, invs[n-AccountInvoicesMax:]
	}
	for _, inv := range slices.Backward(invs) {
		row := invoiceRow{ID: inv.ID, Number: inv.Number, Date: day(inv.BillingDate, loc), Total: money(inv.TotalMinor, inv.Currency, inv.CurrencyDigits),
			Method: inv.PaymentMethod, Status: statusBadge(string(inv.Status)), Payment: statusBadge(string(inv.PaymentStatus)), Hidden: inv.Hidden}
		if row.Number == "" {
			row.Number = dash
		}
		if row.Method == "" {
			row.Method = dash
		}
		if inv.Status != billow.InvoiceDraft {
			row.PDF = "/admin/invoices/" + url.PathEscape(inv.ID) + "/pdf"
		}
		page.Invoices = append(page.Invoices, row)
	}

	orders, err := h.store.Orders(ctx, a.ID, accountOrdersMax)
	if err != nil {
		h.fail(w, r, v, err)
		return
	}
	digits := cat.CurrencyDigits
	for _, o := range orders {
		page.Orders = append(page.Orders, orderRow{ID: o.ID, Kind: label(string(o.Kind)), Amount: money(o.AmountMinor, o.Currency, digits),
			Created: when(o.CreatedAt), Status: statusBadge(string(o.Status)), Clearable: o.Status == billow.OrderPendingPayment})
	}

	usage, err := h.store.UsageSummary(ctx, billow.UsageSummaryInput{Account: a.ID})
	if err != nil {
		h.fail(w, r, v, err)
		return
	}
	page.UsagePeriod = day(usage.From, loc) + " – " + day(usage.To.Add(-time.Nanosecond), loc)
	for _, m := range usage.Meters {
		page.Usage = append(page.Usage, usageRow{Name: m.Name, Value: quantity(m.Quantity, m.Unit)})
	}

	l := layout{Title: a.Name, Section: "accounts", Content: &page}
	if id := r.URL.Query().Get("cleared"); id != "" {
		l.Notice = "Wire transfer " + id + " was marked received: its invoice is paid and the order applied."
	}
	h.render(w, r, http.StatusOK, "account.html", v, l)
}

// contactLine writes a billing contact in one line.
func contactLine(c billow.BillingContact) string {
	var parts []string
	for _, s := range []string{c.Name, c.Email, c.Address.City, c.Address.Country} {
		if s != "" {
			parts = append(parts, s)
		}
	}
	if len(parts) == 0 {
		return dash
	}
	return strings.Join(parts, " · ")
}

func subscriptionOf(sub *billow.Subscription, cat *catalog.Catalog, loc *time.Location) *subscriptionView {
	s := &subscriptionView{Plan: sub.Plan, Interval: label(sub.Interval) + "ly", Status: statusBadge(string(sub.Status)),
		Period: day(sub.CurrentPeriodStart, loc) + " – " + day(sub.CurrentPeriodEnd, loc)}
	for _, p := range cat.Plans {
		if p.Key == sub.Plan {
			s.Plan = p.Name
		}
	}
	var addOns []string
	for _, ao := range sub.AddOns {
		name := ao.AddOn
		for _, c := range cat.AddOns {
			if c.Key == ao.AddOn {
				name = c.Name
			}
		}
		if ao.Quantity > 1 {
			name += " × " + groupDigits(itoa64(ao.Quantity))
		}
		addOns = append(addOns, name)
	}
	s.AddOns = strings.Join(addOns, ", ")
	if s.AddOns == "" {
		s.AddOns = "None"
	}
	switch {
	case sub.CancelAtPeriodEnd:
		s.Note = "Cancels at the end of the period."
	case sub.PastDueSince != nil:
		s.Note = "Past due since " + day(*sub.PastDueSince, loc) + "."
	case sub.TrialEnd != nil:
		s.Note = "Trial ends " + day(*sub.TrialEnd, loc) + "."
	}
	return s
}

// walletOf sums a wallet's grants by kind, in the order they are spent.
func walletOf(w *billow.Wallet) walletView {
	out := walletView{Balance: credits(w.BalanceUcr), Held: credits(w.HeldUcr), Overdrawn: credits(w.OverdrawnUcr)}
	for _, kind := range []billow.GrantKind{billow.GrantFree, billow.GrantPromotional, billow.GrantPaid} {
		row := grantKindRow{Kind: label(string(kind))}
		var sum int64
		for _, g := range w.Grants {
			if g.Kind == kind {
				sum += g.RemainingUcr
				row.Grants++
			}
		}
		row.Credits = credits(sum)
		out.Kinds = append(out.Kinds, row)
	}
	return out
}
