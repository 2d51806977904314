package portal

import (
	"errors"
	"net/http"
	"net/url"

	"github.com/billowhq/billow"
	"github.com/billowhq/billow/billing"
)

// payResults are the refusals of billing.PayInvoice the invoices page explains, by code.
var payResults = map[string]string{
	billow.CodePaymentDeclined:      "declined",
	billow.CodePaymentMethodMissing: "no_method",
	billow.CodeInvoiceNotPayable:    "not_payable",
	billow.CodeConcurrentUpdate:     "not_payable",
}

// invoicePay pays an open invoice now with the default payment method
// (POST /portal/invoices/{invoice}/pay): seed 000's Pay now, for owners and billing
// members only (requirePayer), with the session's CSRF token (withVisit). The answer is a
// redirect to the list, which says how it went.
func (h *Handler) invoicePay(w http.ResponseWriter, r *http.Request, v *visit) {
	inv, err := h.visibleInvoice(r, v)
	if err != nil {
		h.fail(w, r, v, err)
		return
	}
	if h.billing == nil {
		h.fail(w, r, v, errors.New("portal: no billing service to pay with"))
		return
	}
	result := "paid"
	if _, err := h.billing.PayInvoice(r.Context(), v.account.ID, inv.ID, billing.PayInvoiceInput{}); err != nil {
		var ok bool
		if result, ok = payResults[billow.ErrorCode(err)]; !ok {
			h.fail(w, r, v, err)
			return
		}
	}
	h.logger.InfoContext(r.Context(), "portal invoice payment", "session", v.session.ID, "account", v.account.ID,
		"invoice", inv.ID, "result", result)
	redirect(w, r, "/portal/invoices?result="+result+"&invoice="+url.QueryEscape(inv.ID)+"#"+inv.ID)
}
