package admin

import (
	"errors"
	"net/http"
	"net/url"
	"strings"
)

// wireClear records that a wire transfer arrived (POST /admin/orders/{order}/clear, the
// "Mark received" button): billing.Service.ClearPayment pays the order's invoice and
// applies the order. It answers with a redirect back to the page the button was on
// (form field "from": the wire transfers or the account), which says it is done. An
// order that is not awaiting a wire transfer any more (cleared by a colleague a moment
// ago) is a 409 page saying so.
func (h *Handler) wireClear(w http.ResponseWriter, r *http.Request, v *visit) {
	if h.billing == nil {
		h.fail(w, r, v, errors.New("admin: no billing service to clear payments with"))
		return
	}
	ctx := r.Context()
	o, _, err := h.store.Order(ctx, r.PathValue("order"))
	if err != nil {
		h.fail(w, r, v, err)
		return
	}
	cleared, err := h.billing.ClearPayment(ctx, o.Account, o.ID)
	if err != nil {
		h.fail(w, r, v, err)
		return
	}
	// The audit trail of money the operator says arrived: who, which order, how much.
	h.logger.InfoContext(ctx, "admin wire transfer marked received", "operator", v.operator.ID, "email", v.operator.Email,
		"order", cleared.ID, "account", cleared.Account, "amount_minor", cleared.AmountMinor, "currency", cleared.Currency,
		"status", cleared.Status)
	back := "/admin/wire-transfers"
	if from := r.PostForm.Get("from"); from == "/admin/accounts/"+url.PathEscape(o.Account) && !strings.ContainsAny(from, "?#") {
		back = from
	}
	redirect(w, r, back+"?cleared="+url.QueryEscape(cleared.ID))
}
