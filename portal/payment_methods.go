package portal

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/billowhq/billow"
	"github.com/billowhq/billow/payment/sandbox"
)

// The Payment methods page (GET /portal/payment-methods) is seed 000's Payment Methods:
// the stored methods (brand, last four digits, expiry, kind, the default), adding a card
// (number, expiry, CVC, holder name) or a PayPal account, paying by wire transfer, and
// choosing the default, which renewals, Pay now, credit purchases and auto-charge charge.
// A card number goes to the gateway through billing.Service.AddPaymentMethod and
// nowhere else: it is not logged, and a refused form comes back without it and without
// the CVC. Owners and billing members change things (requirePayer); everybody else reads.

// paymentMethodsStore is what the Payment methods page writes besides the portal's Store.
type paymentMethodsStore interface {
	// SetDefaultPaymentMethod makes one of the account's methods its default
	// (not_found for another account's).
	SetDefaultPaymentMethod(ctx context.Context, in billow.SetDefaultPaymentMethodInput) (*billow.PaymentMethod, error)
}

// paymentMethodsBilling is what the Payment methods page asks of billing.
type paymentMethodsBilling interface {
	// AddPaymentMethod tokenizes a card or PayPal account at the gateway and stores the
	// token (validation_failed, payment_declined).
	AddPaymentMethod(ctx context.Context, accountRef string, in billow.AddPaymentMethodInput) (*billow.PaymentMethod, error)
	// GatewayName names the gateway: the sandbox's test cards are shown with it only.
	GatewayName() string
}

// Limits of the payment method forms, named with their unit last.
const (
	// pmHolderNameMaxBytes bounds a card holder's name, as billow.CardDetails does.
	pmHolderNameMaxBytes = 200
	// pmExpiryYearsMax is how many years ahead the expiry year list goes.
	pmExpiryYearsMax = 20
)

// pmView is the Payment methods page.
type pmView struct {
	Methods   []pmRow
	Full      bool // the account has as many methods as it may
	Max       int
	Card      pmCardForm
	PayPal    pmPayPalForm
	FormError string // a refusal of the add form that concerns no single field
	Months    []option
	Years     []option
	Sandbox   *pmSandbox // the sandbox's test cards, when the gateway is the sandbox
	HasWire   bool
}

type pmRow struct {
	ID, Label                   string
	Line                        string // "Card · expires 07/2031 · Fin Finance"
	Expired, Default, Highlight bool
	DefaultURL                  string
}

// pmCardForm is the card form as sent, without the number and the CVC, which are never
// written back into a page.
type pmCardForm struct {
	HolderName string
	ExpMonth   string
	ExpYear    string
	Default    bool
	Errors     map[string]string // by field: number, exp_month, exp_year, cvc, holder_name
	Open       bool              // the form was sent and refused
}

type pmPayPalForm struct {
	Email string
	Error string
	Open  bool
}

type pmSandbox struct {
	Cards []pmTestCard
	OTP   string
}

type pmTestCard struct {
	Number, Result string
}

func (h *Handler) paymentMethods(w http.ResponseWriter, r *http.Request, v *visit) {
	h.pmPage(w, r, v, http.StatusOK, pmView{})
}

// pmPage renders the page with status; f holds a refused form.
func (h *Handler) pmPage(w http.ResponseWriter, r *http.Request, v *visit, status int, f pmView) {
	l := layout{Title: "Payment methods", Section: "payment-methods"}
	loc, err := h.zone(v.account.Timezone)
	if err != nil {
		h.fail(w, r, v, err)
		return
	}
	methods, err := h.store.PaymentMethods(r.Context(), v.account.ID)
	if err != nil {
		h.fail(w, r, v, err)
		return
	}
	p := &f
	p.Max = billow.PaymentMethodsPerAccountMax
	p.Full = len(methods) >= billow.PaymentMethodsPerAccountMax
	q := r.URL.Query()
	now := h.clock.Now().In(loc)
	for _, m := range methods {
		row := pmRow{ID: m.ID, Label: m.Label(), Default: m.Default, Highlight: q.Get("method") == m.ID,
			DefaultURL: "/portal/payment-methods/" + url.PathEscape(m.ID) + "/default"}
		var line []string
		switch m.Kind {
		case billow.MethodCard:
			line = append(line, "Card")
			if m.ExpMonth > 0 {
				line = append(line, fmt.Sprintf("expires %02d/%d", m.ExpMonth, m.ExpYear))
				// Good through the last day of its month.
				row.Expired = m.ExpYear < int64(now.Year()) || (m.ExpYear == int64(now.Year()) && m.ExpMonth < int64(now.Month()))
			}
			if m.HolderName != "" {
				line = append(line, m.HolderName)
			}
		case billow.MethodPayPal:
			line = append(line, m.PayPalEmail)
		case billow.MethodWire:
			line = append(line, "Bank transfer; the instructions follow by email with each order")
			p.HasWire = true
		}
		row.Line = strings.Join(line, " · ")
		p.Methods = append(p.Methods, row)
	}
	for m := 1; m <= 12; m++ {
		val := strconv.Itoa(m)
		label := val
		if m < 10 {
			label = "0" + val
		}
		p.Months = append(p.Months, option{Value: val, Label: label + " · " + time.Month(m).String(), Selected: val == p.Card.ExpMonth})
	}
	for y := now.Year(); y <= now.Year()+pmExpiryYearsMax; y++ {
		val := strconv.Itoa(y)
		p.Years = append(p.Years, option{Value: val, Label: val, Selected: val == p.Card.ExpYear})
	}
	if p.Card.Errors == nil {
		p.Card.Errors = map[string]string{}
	}
	if v.canPay() && h.billing != nil && h.billing.GatewayName() == sandbox.Name {
		p.Sandbox = &pmSandbox{OTP: sandbox.OTP, Cards: []pmTestCard{
			{pmCardText(sandbox.CardVisa), "succeeds"},
			{pmCardText(sandbox.CardMastercard), "succeeds (Mastercard)"},
			{pmCardText(sandbox.CardOTP), "asks for a one-time password when charged"},
			{pmCardText(sandbox.CardInsufficientFunds), "declined when charged: insufficient funds"},
			{pmCardText(sandbox.CardDeclined), "declined when charged"},
		}}
	}
	if status == http.StatusUnprocessableEntity && p.FormError == "" {
		l.Error = "The payment method was not added: see why below."
	}
	if status == http.StatusOK {
		switch q.Get("result") {
		case "added":
			l.Notice = "The payment method is added."
		case "added_default":
			l.Notice = "The payment method is added and is now your default."
		case "default":
			l.Notice = "Your default payment method is changed: renewals, Pay now, credit purchases and auto-charge use it from now on."
		}
	}
	l.Content = p
	h.render(w, r, status, "payment_methods.html", v, l)
}

// pmCardText writes a card number in groups of four, as it is printed.
func pmCardText(n string) string {
	var b strings.Builder
	for i, c := range n {
		if i > 0 && i%4 == 0 {
			b.WriteByte(' ')
		}
		b.WriteRune(c)
	}
	return b.String()
}

// paymentMethodAdd adds a payment method (POST /portal/payment-methods, field kind: card
// with number, exp_month, exp_year, cvc, holder_name; paypal with paypal_email; wire;
// default to make it the default). A refused card comes back with the reason at its
// field, without the number and the CVC.
func (h *Handler) paymentMethodAdd(w http.ResponseWriter, r *http.Request, v *visit) {
	if h.billing == nil {
		h.fail(w, r, v, errors.New("portal: no billing service to add payment methods with"))
		return
	}
	form := r.PostForm
	in := billow.AddPaymentMethodInput{Kind: billow.PaymentMethodKind(form.Get("kind")), Default: form.Get("default") == "on"}
	f := pmView{Card: pmCardForm{Errors: map[string]string{}}}
	switch in.Kind {
	case billow.MethodCard:
		month, _ := strconv.ParseInt(strings.TrimSpace(form.Get("exp_month")), 10, 64)
		year, _ := strconv.ParseInt(strings.TrimSpace(form.Get("exp_year")), 10, 64)
		in.Card = &billow.CardDetails{Number: strings.TrimSpace(form.Get("number")), ExpMonth: month, ExpYear: year,
			CVC: strings.TrimSpace(form.Get("cvc")), HolderName: strings.TrimSpace(form.Get("holder_name"))}
		f.Card.HolderName, f.Card.Default, f.Card.Open = in.Card.HolderName, in.Default, true
		f.Card.ExpMonth, f.Card.ExpYear = strconv.FormatInt(month, 10), strconv.FormatInt(year, 10)
		if len(in.Card.HolderName) > pmHolderNameMaxBytes {
			f.Card.HolderName = ""
			f.Card.Errors["holder_name"] = "The name on the card is too long."
			h.pmPage(w, r, v, http.StatusUnprocessableEntity, f)
			return
		}
	case billow.MethodPayPal:
		in.PayPalEmail = strings.TrimSpace(form.Get("paypal_email"))
		f.PayPal = pmPayPalForm{Email: in.PayPalEmail, Open: true}
		if len(in.PayPalEmail) > billow.PayPalEmailMaxBytes {
			f.PayPal.Email, f.PayPal.Error = "", "Enter the email address of your PayPal account."
			h.pmPage(w, r, v, http.StatusUnprocessableEntity, f)
			return
		}
	case billow.MethodWire:
	default:
		h.pmPage(w, r, v, http.StatusBadRequest, pmView{FormError: "Choose a card, PayPal or a wire transfer."})
		return
	}
	m, err := h.billing.AddPaymentMethod(r.Context(), v.account.ID, in)
	if err != nil {
		if !pmRefusal(err, &f) {
			h.fail(w, r, v, err)
			return
		}
		// What was refused is logged by its code and field only: never the input.
		h.logger.InfoContext(r.Context(), "portal payment method refused", "session", v.session.ID, "account", v.account.ID,
			"kind", string(in.Kind), "code", billow.ErrorCode(err))
		h.pmPage(w, r, v, http.StatusUnprocessableEntity, f)
		return
	}
	h.logger.InfoContext(r.Context(), "portal payment method added", "session", v.session.ID, "account", v.account.ID,
		"method", m.ID, "kind", string(m.Kind), "default", m.Default)
	result := "added"
	if m.Default {
		result = "added_default"
	}
	redirect(w, r, "/portal/payment-methods?result="+result+"&method="+url.QueryEscape(m.ID)+"#"+m.ID)
}

// pmRefusal puts a refusal of AddPaymentMethod at the field it concerns, in words for
// the customer; it reports false for an error that is not a refusal of the input.
func pmRefusal(err error, f *pmView) bool {
	var e *billow.Error
	if !errors.As(err, &e) || (e.Code != billow.CodeValidationFailed && e.Code != billow.CodePaymentDeclined) {
		return false
	}
	declined := e.Code == billow.CodePaymentDeclined
	for _, fe := range e.Fields {
		switch fe.Field {
		case "card.number":
			f.Card.Errors["number"] = "Check the card number: it is the 12 to 19 digits on the front of the card."
		case "card.exp_month", "card.exp_year":
			field := strings.TrimPrefix(fe.Field, "card.")
			if declined {
				f.Card.Errors[field] = "This card has expired. Use a card that is still valid."
			} else if field == "exp_month" {
				f.Card.Errors[field] = "Choose the month the card expires."
			} else {
				f.Card.Errors[field] = "Choose the year the card expires."
			}
		case "card.cvc":
			f.Card.Errors["cvc"] = "Enter the 3 or 4 digit security code (CVC) from the back of the card."
		case "card.holder_name":
			f.Card.Errors["holder_name"] = "Check the name on the card."
		case "paypal_email":
			f.PayPal.Error = "Enter the email address of your PayPal account."
		default:
			f.FormError = "This payment method cannot be added. Check its details and try again."
		}
	}
	if len(e.Fields) == 0 {
		// The store's limit on methods, or a gateway's refusal of the whole card.
		if e.Code == billow.CodeValidationFailed {
			f.FormError = "Your account has " + strconv.Itoa(billow.PaymentMethodsPerAccountMax) +
				" payment methods, the most it may keep."
		} else {
			f.FormError = "The card was refused by its bank. Use another card, or PayPal."
		}
	}
	return true
}

// paymentMethodDefault makes a stored method the default
// (POST /portal/payment-methods/{method}/default). Another account's method is not
// found, like one that does not exist.
func (h *Handler) paymentMethodDefault(w http.ResponseWriter, r *http.Request, v *visit) {
	id := r.PathValue("method")
	m, err := h.store.SetDefaultPaymentMethod(r.Context(), billow.SetDefaultPaymentMethodInput{Account: v.account.ID, Method: id})
	if billow.ErrorKindOf(err) == billow.KindInvalid {
		err = billow.NotFound("payment method", id)
	}
	if err != nil {
		h.fail(w, r, v, err)
		return
	}
	h.logger.InfoContext(r.Context(), "portal default payment method", "session", v.session.ID, "account", v.account.ID, "method", m.ID)
	redirect(w, r, "/portal/payment-methods?result=default&method="+url.QueryEscape(m.ID)+"#"+m.ID)
}
