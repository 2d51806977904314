package http

import (
	"bytes"
	"context"
	"fmt"
	"mime"
	"net/http"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/billowhq/billow"
	"github.com/billowhq/billow/billing"
	"github.com/billowhq/billow/pdf"
	"github.com/billowhq/billow/sqlstore"
)

// codeRangeTooLarge refuses an export whose range is longer than its bound.
const codeRangeTooLarge = "range_too_large"

// InvoicesPageMax bounds one page of the invoice list.
const InvoicesPageMax = 1000

// InvoicePath names an invoice in a path.
type InvoicePath struct {
	Invoice string `path:"invoice" maxLength:"64" doc:"Invoice id (inv_…)."`
}

func (s *Server) registerInvoices() {
	type invoiceOut struct{ Body *billow.Invoice }

	type listIn struct {
		AccountPath
		From          time.Time `query:"from" doc:"Only invoices billed at or after this time, RFC 3339."`
		To            time.Time `query:"to" doc:"Only invoices billed before this time, RFC 3339."`
		Limit         int       `query:"limit" minimum:"1" maximum:"1000" default:"100" doc:"Page size."`
		StartingAfter string    `query:"starting_after" maxLength:"64" doc:"The last invoice id of the previous page."`
	}
	type listOut struct {
		Body billow.Page[*billow.Invoice]
	}
	register(s, operation("listInvoices", http.MethodGet, "/v1/accounts/{account}/invoices", "List invoices", "Invoices",
		"Lists the account's finalized invoices in chronological order, oldest first (seed 000), billed in [from, to). "+
			"Drafts (orders waiting for an OTP or an approval) are not listed. Enterprise invoices are the operator's: an "+
			"account's own key does not see them."),
		func(ctx context.Context, in *listIn) (*listOut, error) {
			a, err := s.account(ctx, in.Account)
			if err != nil {
				return nil, err
			}
			f := sqlstore.InvoiceFilter{AccountID: a.ID, IncludeHidden: principal(ctx).IsOperator(), From: in.From, To: in.To}
			skip := 0
			if in.StartingAfter != "" {
				after, err := s.invoice(ctx, in.StartingAfter)
				if err != nil || after.Account != a.ID {
					return nil, billow.FieldErrorf(billow.CodeValidationFailed, "starting_after", "is not an invoice of this account")
				}
				if !f.From.After(after.BillingDate) {
					// The list is ordered by billing date, then id: skip those at the same
					// instant up to the cursor.
					f.From = after.BillingDate
					same, err := s.store.Invoices(ctx, sqlstore.InvoiceFilter{AccountID: a.ID, IncludeHidden: f.IncludeHidden,
						From: after.BillingDate, To: after.BillingDate.Add(time.Microsecond)})
					if err != nil {
						return nil, err
					}
					for _, inv := range same {
						if inv.ID <= after.ID {
							skip++
						}
					}
				}
			}
			f.Limit = skip + in.Limit + 1
			invs, err := s.store.Invoices(ctx, f)
			if err != nil {
				return nil, s.inQuery(ctx, err)
			}
			invs = invs[min(skip, len(invs)):]
			out := &listOut{}
			if len(invs) > in.Limit {
				invs, out.Body.HasMore = invs[:in.Limit], true
			}
			out.Body.Data = nonNil(invs)
			return out, nil
		})

	type upcomingIn struct{ AccountPath }
	register(s, operation("getUpcomingInvoice", http.MethodGet, "/v1/accounts/{account}/invoices/upcoming", "Preview the upcoming invoice", "Invoices",
		"The invoice the subscription will be renewed with when its current period ends, if nothing changes until then, "+
			"computed now and stored nowhere: status draft, no id, no number, billed at the period end. It has the lines the "+
			"renewal will have: a pending change applied (a scheduled downgrade shows the new plan), the next period's fee and "+
			"add-ons, the postpaid usage and seats of the months that will have ended by then (a month still running rated as far "+
			"as it has gone), late-usage adjustments, and the tax. A trial's upcoming invoice is its first paid one. 404 "+
			"no_subscription when the account has no subscription that has not ended; 404 no_upcoming_invoice when it will not "+
			"renew (set to cancel at period end, past due or suspended, a trial without a payment method, waiting for its first "+
			"payment). An enterprise account's invoices are the operator's: its own key gets 404 not_found."),
		func(ctx context.Context, in *upcomingIn) (*invoiceOut, error) {
			a, err := s.account(ctx, in.Account)
			if err != nil {
				return nil, err
			}
			// The preview would be Hidden, as the invoice it previews will be (billing's
			// newInvoice): refused before anything is computed, the same answer as reading a
			// hidden invoice by id.
			if a.Type == billow.AccountEnterprise && !principal(ctx).IsOperator() {
				return nil, billow.NotFound("invoice", "upcoming")
			}
			b, err := s.billingService()
			if err != nil {
				return nil, err
			}
			inv, err := b.UpcomingInvoice(ctx, a.ID)
			if err != nil {
				return nil, err
			}
			return &invoiceOut{Body: inv}, nil
		})

	type getIn struct{ InvoicePath }
	register(s, operation("getInvoice", http.MethodGet, "/v1/invoices/{invoice}", "Get an invoice", "Invoices",
		"Returns an invoice with its lines, tax, totals, bill-to and payment status. A finalized invoice never changes but "+
			"for its status and payment."),
		func(ctx context.Context, in *getIn) (*invoiceOut, error) {
			inv, err := s.invoice(ctx, in.Invoice)
			if err != nil {
				return nil, err
			}
			return &invoiceOut{Body: inv}, nil
		})

	type payIn struct {
		InvoicePath
		Body *billing.PayInvoiceInput
	}
	register(s, withErrors(withStatus(http.StatusOK, operation("payInvoice", http.MethodPost, "/v1/invoices/{invoice}/pay", "Pay an invoice", "Invoices",
		"Charges an open invoice now (the portal's Pay now) to payment_method, or to the default method. Paid, it "+
			"reactivates a past-due or suspended subscription. A decline answers 402 payment_declined; an invoice that is not "+
			"open, or whose wire transfer is pending, 409 invoice_not_payable.")), http.StatusPaymentRequired),
		func(ctx context.Context, in *payIn) (*invoiceOut, error) {
			inv, err := s.invoice(ctx, in.Invoice)
			if err != nil {
				return nil, err
			}
			b, err := s.billingService()
			if err != nil {
				return nil, err
			}
			var body billing.PayInvoiceInput
			if in.Body != nil {
				body = *in.Body
			}
			paid, err := b.PayInvoice(ctx, inv.Account, inv.ID, body)
			if err != nil {
				return nil, err
			}
			return &invoiceOut{Body: paid}, nil
		})

	type fileOut struct {
		ContentType        string `header:"Content-Type"`
		ContentDisposition string `header:"Content-Disposition"`
		Body               []byte
	}
	register(s, withErrors(withResponse(operation("getInvoicePDF", http.MethodGet, "/v1/invoices/{invoice}/pdf", "Download an invoice PDF", "Invoices",
		"The invoice as a PDF with the operator's branding, rendered from the frozen content of the finalized invoice. "+
			"A draft has no PDF: 409 invoice_not_finalized."), "application/pdf", "The invoice as a PDF."), http.StatusConflict),
		func(ctx context.Context, in *getIn) (*fileOut, error) {
			inv, err := s.invoice(ctx, in.Invoice)
			if err != nil {
				return nil, err
			}
			if s.brandingErr != nil {
				return nil, fmt.Errorf("http: invoice branding: %w", s.brandingErr)
			}
			doc, err := pdf.Render(inv, s.branding)
			if err != nil {
				return nil, err
			}
			return &fileOut{ContentType: "application/pdf",
				ContentDisposition: mime.FormatMediaType("inline", map[string]string{"filename": pdf.FileName(inv)}), Body: doc}, nil
		})

	type exportIn struct {
		AccountPath
		From time.Time `query:"from" required:"true" doc:"Start, RFC 3339 (inclusive)."`
		To   time.Time `query:"to" required:"true" doc:"End, RFC 3339 (exclusive); at most 3,660 days after from."`
	}
	register(s, withErrors(withResponse(operation("exportInvoices", http.MethodGet, "/v1/accounts/{account}/invoices.csv", "Export invoices", "Invoices",
		"The invoices billed in [from, to) as CSV, oldest first, one row per finalized invoice: Order ID, Billing Date "+
			"(YYYY-MM-DD in the account's time zone), Cost (the total in major units, such as 1234.50), Payment Method, "+
			"Payment Status, Invoice Number, Currency. Enterprise invoices only for the operator. A range longer than "+
			"3,660 days answers 400 range_too_large."), "text/csv", "The invoices as CSV."), http.StatusBadRequest),
		func(ctx context.Context, in *exportIn) (*fileOut, error) {
			if !in.To.After(in.From) {
				return nil, s.inQuery(ctx, billow.FieldErrorf(billow.CodeValidationFailed, "to", "must be after from"))
			}
			if in.To.Sub(in.From) > billow.InvoiceCSVRangeDaysMax*24*time.Hour {
				p := newProblem(http.StatusBadRequest, codeRangeTooLarge,
					fmt.Sprintf("an export covers at most %d days; split the range", billow.InvoiceCSVRangeDaysMax))
				p.Errors = []*huma.ErrorDetail{{Location: "query.to", Message: fmt.Sprintf("must be at most %d days after from", billow.InvoiceCSVRangeDaysMax)}}
				return nil, p
			}
			a, err := s.account(ctx, in.Account)
			if err != nil {
				return nil, err
			}
			loc, err := time.LoadLocation(a.Timezone)
			if err != nil {
				return nil, fmt.Errorf("http: time zone of account %s: %w", a.ID, err)
			}
			invs, err := s.store.Invoices(ctx, sqlstore.InvoiceFilter{AccountID: a.ID, IncludeHidden: principal(ctx).IsOperator(),
				From: in.From, To: in.To})
			if err != nil {
				return nil, err
			}
			var b bytes.Buffer
			if err := billow.WriteInvoicesCSV(&b, invs, loc); err != nil {
				return nil, err
			}
			return &fileOut{ContentType: "text/csv; charset=utf-8",
				ContentDisposition: mime.FormatMediaType("attachment", map[string]string{"filename": billow.InvoicesCSVFileName(a)}),
				Body:               b.Bytes()}, nil
		})
}

// invoice returns an invoice the caller may see: one of its own account that is not
// hidden, or any for the operator. Anything else is "not found", exactly like an invoice
// that does not exist.
func (s *Server) invoice(ctx context.Context, id string) (*billow.Invoice, error) {
	inv, err := s.store.Invoice(ctx, id)
	if err != nil {
		return nil, err
	}
	if !inv.VisibleTo(principal(ctx)) {
		return nil, billow.NotFound("invoice", id)
	}
	return inv, nil
}

// withResponse documents the media type of an operation whose answer is not JSON.
func withResponse(op huma.Operation, contentType, description string) huma.Operation {
	if op.Responses == nil {
		op.Responses = map[string]*huma.Response{}
	}
	op.Responses["200"] = &huma.Response{Description: description, Content: map[string]*huma.MediaType{
		contentType: {Schema: &huma.Schema{Type: "string", Format: "binary"}},
	}}
	return op
}

// majorUnits is billow.MajorUnits, which writes the CSV export's costs.
func majorUnits(minor, digits int64) (string, error) { return billow.MajorUnits(minor, digits) }
