package portal

import (
	"bytes"
	"mime"
	"net/http"

	"github.com/billowhq/billow"
	"github.com/billowhq/billow/sqlstore"
)

// invoicesCSV exports the invoices billed between two dates
// (GET /portal/invoices.csv?from=YYYY-MM-DD&to=YYYY-MM-DD, both days included, in the
// account's time zone): the file GET /v1/accounts/{account}/invoices.csv serves, written
// by the same billow.WriteInvoicesCSV. Enterprise accounts have no invoices here.
func (h *Handler) invoicesCSV(w http.ResponseWriter, r *http.Request, v *visit) {
	a := v.account
	if a.Type == billow.AccountEnterprise {
		h.fail(w, r, v, billow.NotFound("invoices", "csv"))
		return
	}
	loc, err := h.zone(a.Timezone)
	if err != nil {
		h.fail(w, r, v, err)
		return
	}
	from, to, problem := exportRange(r.URL.Query(), loc)
	if problem != "" {
		h.invoicesPage(w, r, v, http.StatusBadRequest, problem)
		return
	}
	invs, err := h.store.Invoices(r.Context(), sqlstore.InvoiceFilter{AccountID: a.ID, IncludeHidden: false, From: from, To: to})
	if err != nil {
		h.fail(w, r, v, err)
		return
	}
	var b bytes.Buffer
	if err := billow.WriteInvoicesCSV(&b, invs, loc); err != nil {
		h.fail(w, r, v, err)
		return
	}
	w.Header().Set("Content-Type", "text/csv; charset=utf-8")
	w.Header().Set("Content-Disposition", mime.FormatMediaType("attachment", map[string]string{"filename": billow.InvoicesCSVFileName(a)}))
	w.Write(b.Bytes())
}
