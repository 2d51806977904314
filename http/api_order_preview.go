package http

import (
	"context"
	"net/http"

	"github.com/billowhq/billow"
)

// registerOrderPreview registers POST /v1/accounts/{account}/orders/preview: what an
// order would cost if it were submitted now (billing.Service.PreviewOrder).
func (s *Server) registerOrderPreview() {
	type previewIn struct {
		AccountPath
		Body billow.SubmitOrderInput
	}
	type previewOut struct{ Body *billow.OrderPreview }
	register(s, withStatus(http.StatusOK, operation("previewOrder", http.MethodPost, "/v1/accounts/{account}/orders/preview",
		"Preview an order", "Billing",
		"Prices the body of POST …/orders as it would be priced if submitted now, and stores nothing: no order, no invoice, "+
			"no payment method, no billing information. The answer's invoice is the order's invoice to the minor unit (its "+
			"lines, the prorations of a change, the tax, the total), with status draft and no id or number; charge_minor is "+
			"what submitting charges now. A trial, a downgrade or an interval change charges nothing now: an invoice without "+
			"lines, total 0, and effective_at says when the change applies (immediate false: at the end of the period). "+
			"Refused as the order would be (outstanding_invoice, subscription_exists, unknown_plan, …); the billing "+
			"information and the payment method are not checked. An enterprise account's invoices are the operator's: its "+
			"own key gets 404 not_found.")),
		func(ctx context.Context, in *previewIn) (*previewOut, error) {
			a, err := s.account(ctx, in.Account)
			if err != nil {
				return nil, err
			}
			// The preview's invoice would be Hidden, as the order's will be: the same answer
			// as the upcoming invoice's for the account's own key.
			if a.Type == billow.AccountEnterprise && !principal(ctx).IsOperator() {
				return nil, billow.NotFound("invoice", "preview")
			}
			b, err := s.billingService()
			if err != nil {
				return nil, err
			}
			p, err := b.PreviewOrder(ctx, a.ID, in.Body)
			if err != nil {
				return nil, err
			}
			return &previewOut{Body: p}, nil
		})
}
