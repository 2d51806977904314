package billing

import (
	"context"
	"time"

	"github.com/billowhq/billow"
)

// An enterprise contract (billow.ContractTerms) reaches billing in two ways. Its prices
// are in the catalog the store gives for the account (sqlstore.DB.AccountCatalog applies
// the contract to a copy), so fees, usage and seat lines price by the contract with no
// case here. Its InvoicingOutsideBillow term changes collection: the operator bills the
// customer itself, so Billow still issues every subscription invoice (the operator needs
// the figures; an enterprise account's invoices are hidden from it anyway) but finalizes
// it open with payment_status "external", records no payment attempt, never charges it,
// never dunns it, and moves the subscription on as if paid. Credit purchases stay
// prepaid in Billow: credits are granted only for money Billow has seen.

// collectedOutside reports whether the operator collects the account's subscription
// invoices outside Billow.
func collectedOutside(a *billow.Account) bool {
	return a.Contract != nil && a.Contract.InvoicingOutsideBillow
}

// completeOutside completes a subscribe or change order whose invoice the operator
// collects outside Billow: the invoice is finalized open with payment_status external,
// nothing is charged, no payment method is needed, and the order applies at once.
func (s *Service) completeOutside(ctx context.Context, st *accountState, order *billow.Order, req orderRequest, lines []billow.InvoiceLine, now time.Time) (*billow.Order, error) {
	inv, err := newInvoice(st, req.Subscription, order.ID, lines, now, req.PeriodStart, req.PeriodEnd)
	if err != nil {
		return nil, err
	}
	order.Invoice, order.AmountMinor = inv.ID, inv.TotalMinor
	if inv.TotalMinor <= 0 {
		return s.completeUnpaid(ctx, st, order, req, inv, now)
	}
	inv.Status, inv.PaymentStatus = billow.InvoiceOpen, billow.PaymentExternal
	inv.DueAt = now.AddDate(0, 0, int(st.cat.Billing.PaymentTermsDays))
	order.Status, order.CompletedAt = billow.OrderCompleted, &now
	w := &billow.BillingWrite{
		Invoices: []billow.InvoiceWrite{{Invoice: inv, Insert: true, CycleKey: "order:" + order.ID, Finalize: true}},
		Orders:   []billow.OrderWrite{{Order: order, Request: mustJSON(req), Insert: true}},
	}
	if err := s.applyOrder(ctx, st, order, req, now, w); err != nil {
		return nil, err
	}
	w.Events = append(w.Events, event(st.account, "invoice.finalized", inv.ID, now, invoiceData(inv)),
		event(st.account, "order.completed", order.ID, now, map[string]any{"order": order.ID, "kind": string(order.Kind), "invoice": inv.ID}))
	if err := s.store.WriteBilling(ctx, w); err != nil {
		return nil, err
	}
	return order, nil
}
