package admin

import (
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/billowhq/billow"
	"github.com/billowhq/billow/sqlstore"
)

// accountsPage is the content of the accounts list.
type accountsPage struct {
	Query    string
	Rows     []accountRow
	NextURL  string // the next page, or ""
	FirstURL string // the first page when this is a later one, or ""
	Empty    string // what to say when there are no rows
}

type accountRow struct {
	ID, ExternalID, Name, Type, Plan, Catalog, Created string
	Status                                             *badge // nil: never subscribed
	URL                                                string
}

// accounts lists the accounts, newest first, PageRowsMax a page (GET /admin/accounts):
// all of them, or those whose name or external id holds the search, or the one whose id
// it is.
func (h *Handler) accounts(w http.ResponseWriter, r *http.Request, v *visit) {
	q := strings.TrimSpace(r.URL.Query().Get("q"))
	after := r.URL.Query().Get("after")
	page := accountsPage{Query: q}
	l := layout{Title: "Accounts", Section: "accounts", Content: &page}
	if len(q) > SearchMaxBytes {
		l.Error = "The search is too long: use at most 200 characters."
		page.Empty = "Shorten the search to see accounts."
		h.render(w, r, http.StatusUnprocessableEntity, "accounts.html", v, l)
		return
	}
	var found []*billow.Account
	switch {
	case billow.IsID(q, billow.PrefixAccount):
		// An id names one account: it is found, or nothing is.
		a, err := h.store.Account(r.Context(), q)
		if err != nil && billow.ErrorKindOf(err) != billow.KindNotFound {
			h.fail(w, r, v, err)
			return
		}
		if a != nil {
			found = append(found, a)
		}
	default:
		p, err := h.store.ListAccounts(r.Context(), sqlstore.AccountFilter{Query: q}, billow.PageInput{Limit: PageRowsMax, StartingAfter: after})
		if err != nil {
			h.fail(w, r, v, err)
			return
		}
		found = p.Data
		if p.HasMore && len(found) > 0 {
			page.NextURL = accountsURL(q, found[len(found)-1].ID)
		}
		if after != "" {
			page.FirstURL = accountsURL(q, "")
		}
	}
	for _, a := range found {
		plan := a.Plan
		if plan == "" {
			plan = dash
		}
		row := accountRow{ID: a.ID, ExternalID: a.ExternalID, Name: a.Name, Type: label(string(a.Type)),
			Plan: plan, Catalog: a.Catalog, Created: day(a.CreatedAt, time.UTC), URL: "/admin/accounts/" + url.PathEscape(a.ID)}
		if a.SubscriptionStatus != "" {
			b := statusBadge(string(a.SubscriptionStatus))
			row.Status = &b
		}
		page.Rows = append(page.Rows, row)
	}
	if len(page.Rows) == 0 {
		page.Empty = "No account matches this search. Search by name, external id or account id (acct_…)."
		if q == "" {
			page.Empty = "There are no accounts yet. Accounts are created through the API (POST /v1/accounts)."
		}
	}
	h.render(w, r, http.StatusOK, "accounts.html", v, l)
}

func accountsURL(q, after string) string {
	v := url.Values{}
	if q != "" {
		v.Set("q", q)
	}
	if after != "" {
		v.Set("after", after)
	}
	if len(v) == 0 {
		return "/admin/accounts"
	}
	return "/admin/accounts?" + v.Encode()
}
