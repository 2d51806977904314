package portal

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/shopspring/decimal"

	"github.com/billowhq/billow"
	"github.com/billowhq/billow/autocharge"
	"github.com/billowhq/billow/catalog"
	"github.com/billowhq/billow/sqlstore"
)

// The Credits page (GET /portal/credits) is seed 004's credits at 1 USD = 1,000 credits
// (the catalog's rate): the balance and its value, by grant kind, the wallet's movements
// a page at a time and their CSV export (the API's file), buying a credit package (an
// order charged to the default payment method), auto-charge (a top-up when the balance
// runs low) and auto-billing of renewals. Owners and billing members change things
// (requirePayer); everybody else reads.

// AutoCharge is what the Credits page asks of the auto-charge service.
type AutoCharge interface {
	Get(ctx context.Context, accountRef string) (*billow.AutoCharge, error)
	Set(ctx context.Context, accountRef string, in billow.SetAutoChargeInput) (*billow.AutoCharge, error)
}

// creditsStore is what the Credits page reads and writes besides the portal's Store.
type creditsStore interface {
	// Transactions lists the wallet's movements newest first, a page at a time, as
	// GET /v1/accounts/{account}/transactions does.
	Transactions(ctx context.Context, accountRef string, page billow.PageInput) (*billow.Page[*billow.WalletTransaction], error)
	// TransactionsBetween returns the movements of [from, to) oldest first, for the
	// export (request_too_large beyond sqlstore.TransactionsExportRowsMax).
	TransactionsBetween(ctx context.Context, accountRef string, from, to time.Time) ([]*billow.WalletTransaction, error)
	// UpdateAccount turns auto-billing on and off.
	UpdateAccount(ctx context.Context, id string, in billow.UpdateAccountInput) (*billow.Account, error)
	// The idempotency keys of the API's POSTs keep a package bought once however often
	// its form is sent (a double click, a retry).
	ClaimIdempotencyKey(ctx context.Context, principal, key, requestHash string, lockFor, keepFor time.Duration) (sqlstore.Claim, error)
	CompleteIdempotencyKey(ctx context.Context, principal, key string, resp sqlstore.IdempotentResponse) error
	ReleaseIdempotencyKey(ctx context.Context, principal, key string) error
}

// creditsBilling is what the Credits page asks of billing: a credit package is an order.
type creditsBilling interface {
	SubmitOrder(ctx context.Context, accountRef string, in billow.SubmitOrderInput) (*billow.Order, error)
}

// Limits of the Credits page, named with their unit last.
const (
	// TransactionsPageRows is how many movements the page lists at a time.
	TransactionsPageRows = 25
	// purchaseKeyBytes is the randomness of a purchase form's key, hex-encoded in the form.
	purchaseKeyBytes = 16
	// purchaseLockFor is how long a purchase holds its form's key: a second sending of
	// the form meanwhile waits for the first's answer; a key left by a stopped process is
	// free again after it.
	purchaseLockFor = 10 * time.Minute
	// purchaseKeepFor is how long a sent form's answer is kept and replayed.
	purchaseKeepFor = 24 * time.Hour
	// purchaseWait and purchaseWaitTries bound how long a second sending of a form waits
	// for the first's answer before it says the purchase is still being processed.
	purchaseWait      = 250 * time.Millisecond
	purchaseWaitTries = 40
	// grantsShownMax bounds the grants the page lists, in spending order; the rest are
	// counted (each purchase is a grant of its own).
	grantsShownMax = 10
	// creditsDigitsMax bounds the digits of a number of credits typed in a form: the most
	// one ledger movement carries (billow.AutoChargeCreditsMax) has 10.
	creditsDigitsMax = 10
)

// creditsView is the Credits page.
type creditsView struct {
	Rate         string // "1 USD = 1,000 credits"
	Balance      string // "12,345.5"
	BalanceValue string // "$12.35"
	Negative     bool
	Kinds        []creditsKind
	Grants       []creditsGrant
	MoreGrants   int    // grants left out of Grants
	Overdrawn    string // what the wallet owes its grace buffer, when it does
	Held         string // what holds reserve, when they do
	Buy          creditsBuyView
	AutoCharge   *autoChargeView  // nil without the auto-charge service
	AutoBilling  *autoBillingView // nil for enterprise accounts, whose invoices the operator collects
	Rows         []creditsRow
	Paged        bool   // not the first page
	OlderURL     string // the next page of older movements, when there is one
	CSV          creditsCSVView
	Operator     string
}

// creditsKind is the credits left of one grant kind.
type creditsKind struct {
	Name, Credits, Value, Detail, Tone string
}

// creditsGrant is one grant with credits left.
type creditsGrant struct {
	Kind, Tone, Left, Of, Expires, Description string
}

type creditsBuyView struct {
	Packages []creditsPackage
	// Min, Max and Step bound the other amount, for the number field; MinText and
	// MaxText say them.
	Min, Max, Step   int64
	MinText, MaxText string
	StepText         string // "10" when purchases are in multiples of 10 credits, else ""
	Method           string // the default payment method, "" when there is none
	Wire             bool   // the default method is a wire transfer
	Key              string // the other amount form's idempotency key
	Amount           string // the other amount as typed, after an error
	Error            string
}

type creditsPackage struct {
	Credits   int64
	Label     string // "1,000 credits"
	Price     string // "$1.00"
	Key       string // the form's idempotency key
	Suggested bool   // the package a top-up may default to
}

type autoChargeView struct {
	Enabled           bool
	Threshold, TopUp  string // the form's values
	Errors            map[string]string
	Status, Tone      string // where it stands, in a sentence, and its badge
	Detail            string
	Packages          []string
	Min, Max, Step    int64
	ThresholdText     string // for reading, "500 credits"
	TopUpText         string
	HasErrors         bool
	NeedsMethod       bool // no default payment method to charge
	WireDefault       bool
	DefaultMethodText string
}

type autoBillingView struct {
	On     bool
	Method string // the default payment method, "" when there is none
}

type creditsRow struct {
	Date, Description, Credits, Value, Balance string
	Added                                      bool
}

type creditsCSVView struct {
	From, To, Error string
}

// creditsForm is what a refused form leaves on the page it renders again.
type creditsForm struct {
	BuyAmount, BuyError string
	AutoCharge          *autoChargeView
	CSVError            string
	Alert               string
}

func (h *Handler) credits(w http.ResponseWriter, r *http.Request, v *visit) {
	h.creditsPage(w, r, v, http.StatusOK, creditsForm{})
}

// creditsPage renders the page with status; f holds a refused form's values and errors.
func (h *Handler) creditsPage(w http.ResponseWriter, r *http.Request, v *visit, status int, f creditsForm) {
	ctx := r.Context()
	a := v.account
	l := layout{Title: "Credits", Section: "credits", Error: f.Alert}
	loc, err := h.zone(a.Timezone)
	if err != nil {
		h.fail(w, r, v, err)
		return
	}
	cat, err := h.store.AccountCatalog(ctx, a)
	if err != nil {
		h.fail(w, r, v, err)
		return
	}
	wallet, err := h.store.Wallet(ctx, a.ID)
	if err != nil {
		h.fail(w, r, v, err)
		return
	}
	methods, err := h.store.PaymentMethods(ctx, a.ID)
	if err != nil {
		h.fail(w, r, v, err)
		return
	}
	q := r.URL.Query()
	page := billow.PageInput{Limit: TransactionsPageRows}
	if after, err := strconv.ParseInt(q.Get("after"), 10, 64); err == nil && after > 0 {
		page.StartingAfter = strconv.FormatInt(after, 10)
	}
	txs, err := h.store.Transactions(ctx, a.ID, page)
	if err != nil {
		h.fail(w, r, v, err)
		return
	}

	var method *billow.PaymentMethod
	for _, m := range methods {
		if m.Default {
			method = m
		}
	}
	p := &creditsView{Operator: h.brand.Name, Paged: page.StartingAfter != ""}
	p.Rate = "1 " + a.Currency + " = " + groupDigits(strconv.FormatInt(cat.Credits.PerCurrencyUnit, 10)) + " credits"
	p.Balance = creditsText(wallet.BalanceUcr)
	p.BalanceValue = creditsValue(wallet.BalanceUcr, cat, a.Currency)
	p.Negative = wallet.BalanceUcr < 0
	p.Kinds, p.Grants = creditsByKind(wallet, cat, a.Currency, loc)
	if len(p.Grants) > grantsShownMax {
		p.Grants, p.MoreGrants = p.Grants[:grantsShownMax], len(p.Grants)-grantsShownMax
	}
	if wallet.OverdrawnUcr > 0 {
		p.Overdrawn = creditsText(wallet.OverdrawnUcr)
	}
	if wallet.HeldUcr > 0 {
		p.Held = creditsText(wallet.HeldUcr)
	}
	p.Buy = creditsBuyForm(cat, a.Currency, method, f)
	if h.autoCharge != nil {
		if p.AutoCharge = f.AutoCharge; p.AutoCharge == nil {
			ac, err := h.autoCharge.Get(ctx, a.ID)
			if err != nil {
				h.fail(w, r, v, err)
				return
			}
			p.AutoCharge = autoChargeForm(ac)
		}
		describeAutoCharge(p.AutoCharge, cat, a.Currency, method)
	}
	if a.Type != billow.AccountEnterprise {
		p.AutoBilling = &autoBillingView{On: a.AutoBilling}
		if method != nil {
			p.AutoBilling.Method = method.Label()
		}
	}
	for _, t := range txs.Data {
		p.Rows = append(p.Rows, creditsRow{Date: t.At.In(loc).Format("2 Jan 2006 15:04"), Description: transactionText(t),
			Credits: signedCredits(t.CreditsUcr), Value: creditsValue(t.CreditsUcr, cat, a.Currency),
			Balance: creditsText(t.BalanceAfterUcr), Added: t.CreditsUcr > 0})
	}
	if txs.HasMore && len(txs.Data) > 0 {
		p.OlderURL = "/portal/credits?after=" + strconv.FormatInt(txs.Data[len(txs.Data)-1].Seq, 10) + "#transactions"
	}
	now := h.clock.Now()
	p.CSV = creditsCSVView{From: isoDate(now.AddDate(0, 0, -30), loc), To: isoDate(now, loc), Error: f.CSVError}
	if f.CSVError != "" {
		p.CSV.From, p.CSV.To = q.Get("from"), q.Get("to")
	}
	if status == http.StatusOK {
		l.Notice, l.Error = creditsResult(q, h.brand.Name)
	}
	l.Content = p
	h.render(w, r, status, "credits.html", v, l)
}

// creditsByKind sums the wallet's grants by kind, in the order they are spent, and lists
// each grant.
func creditsByKind(wallet *billow.Wallet, cat *catalog.Catalog, currency string, loc *time.Location) ([]creditsKind, []creditsGrant) {
	sums := map[billow.GrantKind]int64{}
	soonest := map[billow.GrantKind]time.Time{}
	var grants []creditsGrant
	for _, g := range wallet.Grants {
		sums[g.Kind] += g.RemainingUcr
		cg := creditsGrant{Kind: grantKindName(g.Kind), Tone: grantKindTone(g.Kind), Left: creditsText(g.RemainingUcr),
			Of: creditsText(g.AmountUcr), Expires: "Never", Description: g.Description}
		if g.ExpiresAt != nil {
			cg.Expires = formatDate(*g.ExpiresAt, loc)
			if s, ok := soonest[g.Kind]; !ok || g.ExpiresAt.Before(s) {
				soonest[g.Kind] = *g.ExpiresAt
			}
		}
		grants = append(grants, cg)
	}
	kinds := make([]creditsKind, 0, 3)
	for _, k := range []billow.GrantKind{billow.GrantFree, billow.GrantPromotional, billow.GrantPaid} {
		ck := creditsKind{Name: grantKindName(k), Credits: creditsText(sums[k]), Value: creditsValue(sums[k], cat, currency),
			Tone: grantKindTone(k)}
		switch k {
		case billow.GrantFree:
			ck.Detail = "Included with your plan; spent first"
		case billow.GrantPromotional:
			ck.Detail = "Given to you; they expire"
		case billow.GrantPaid:
			ck.Detail = "Bought; spent last"
		}
		if s, ok := soonest[k]; ok && sums[k] > 0 {
			ck.Detail += " · next expiry " + formatDate(s, loc)
		} else if k == billow.GrantPaid && sums[k] > 0 {
			ck.Detail += " · they do not expire"
		}
		kinds = append(kinds, ck)
	}
	return kinds, grants
}

func grantKindName(k billow.GrantKind) string {
	switch k {
	case billow.GrantFree:
		return "Free"
	case billow.GrantPromotional:
		return "Promotional"
	case billow.GrantPaid:
		return "Paid"
	}
	return string(k)
}

func grantKindTone(k billow.GrantKind) string {
	switch k {
	case billow.GrantFree:
		return "ok"
	case billow.GrantPromotional:
		return "info"
	}
	return "neutral"
}

// transactionText is a movement's description, or what its cause says when it has none.
func transactionText(t *billow.WalletTransaction) string {
	if t.Description != "" {
		return t.Description
	}
	switch t.Cause {
	case billow.CauseUsage:
		return "Usage"
	case billow.CausePurchase:
		return "Credits bought"
	case billow.CauseGrant:
		return "Credits granted"
	case billow.CauseExpiry:
		return "Credits expired unspent"
	case billow.CauseRefund:
		return "Refund"
	case billow.CauseHold:
		return "Reserved for work in progress"
	}
	return "Adjustment"
}

// creditsBuyForm lays out the catalog's packages and purchase limits, priced in the
// account's currency, each form with a key of its own.
func creditsBuyForm(cat *catalog.Catalog, currency string, method *billow.PaymentMethod, f creditsForm) creditsBuyView {
	cr := cat.Credits
	b := creditsBuyView{Min: cr.PurchaseMinCredits, Max: cr.PurchaseMaxCredits, Step: creditsStep(cat), Amount: f.BuyAmount,
		Error: f.BuyError, Key: creditsFormKey()}
	b.MinText, b.MaxText = groupDigits(strconv.FormatInt(b.Min, 10)), groupDigits(strconv.FormatInt(b.Max, 10))
	if b.Step > 1 {
		b.StepText = groupDigits(strconv.FormatInt(b.Step, 10))
	}
	for _, n := range cr.PackagesCredits {
		minor, ok := creditsPrice(cat, n)
		if !ok {
			continue // the catalog promises whole minor units; a package that is not cannot be sold
		}
		b.Packages = append(b.Packages, creditsPackage{Credits: n, Label: groupDigits(strconv.FormatInt(n, 10)) + " credits",
			Price: money(minor, currency, cat.CurrencyDigits), Key: creditsFormKey()})
	}
	if method != nil {
		b.Method, b.Wire = method.Label(), method.Kind == billow.MethodWire
	}
	return b
}

// creditsStep is the smallest number of credits a purchase is a multiple of: what costs
// a whole minor unit (10 credits a cent at 1,000 credits a dollar).
func creditsStep(cat *catalog.Catalog) int64 {
	scale := creditsMinorScale(cat)
	a, b := cat.Credits.PerCurrencyUnit, scale
	for b != 0 {
		a, b = b, a%b
	}
	return cat.Credits.PerCurrencyUnit / a
}

// creditsPrice is what n credits cost in minor units, if that is a whole number.
func creditsPrice(cat *catalog.Catalog, n int64) (int64, bool) {
	scaled := n * creditsMinorScale(cat)
	if cat.Credits.PerCurrencyUnit <= 0 || scaled%cat.Credits.PerCurrencyUnit != 0 {
		return 0, false
	}
	return scaled / cat.Credits.PerCurrencyUnit, true
}

func creditsMinorScale(cat *catalog.Catalog) int64 {
	scale := int64(1)
	for range cat.CurrencyDigits {
		scale *= 10
	}
	return scale
}

// creditsFormKey is a new idempotency key for a purchase form.
func creditsFormKey() string {
	b := make([]byte, purchaseKeyBytes)
	rand.Read(b) // never fails (crypto/rand)
	return hex.EncodeToString(b)
}

// creditsText writes micro-credits as credits with grouped digits and at most two
// decimals; an amount too small for two decimals keeps every digit, so that it never
// reads as 0.
func creditsText(ucr int64) string {
	d := decimal.New(ucr, -6)
	if r := d.Round(2); !r.IsZero() || ucr == 0 {
		return groupDigits(r.String())
	}
	return billow.CreditsText(ucr)
}

// signedCredits writes a movement's credits with its sign: +1,000 added, -12.5 spent.
func signedCredits(ucr int64) string {
	if ucr > 0 {
		return "+" + creditsText(ucr)
	}
	return creditsText(ucr)
}

// creditsValue writes what micro-credits are worth in the account's currency at the
// catalog's rate, rounded to the currency's minor unit: decimal arithmetic, no float.
func creditsValue(ucr int64, cat *catalog.Catalog, currency string) string {
	per := cat.Credits.PerCurrencyUnit
	if per <= 0 {
		return dash
	}
	minor := decimal.New(ucr, -6).Mul(decimal.NewFromInt(creditsMinorScale(cat))).Div(decimal.NewFromInt(per)).Round(0).IntPart()
	return money(minor, currency, cat.CurrencyDigits)
}

// creditsResult says how the action the page was redirected from went.
func creditsResult(q url.Values, operator string) (notice, alert string) {
	switch q.Get("result") {
	case "bought":
		n, err := strconv.ParseInt(q.Get("credits"), 10, 64)
		if err != nil || n <= 0 {
			return "Thank you: your credits were added to your balance.", ""
		}
		return "Thank you: " + groupDigits(strconv.FormatInt(n, 10)) + " credits were added to your balance.", ""
	case "pending_wire":
		return "Your order is registered, pending payment clearance. The wire transfer instructions follow by email; " +
			"the credits load once the transfer has cleared.", ""
	case "pending":
		return "Your order is registered and the payment is being processed. The credits load as soon as it is confirmed.", ""
	case "in_progress":
		return "This purchase is still being processed. Reload the page in a moment to see your balance.", ""
	case "declined":
		return "", purchaseDeclined(q.Get("code"))
	case "no_method":
		return "", "There is no default payment method to pay with. Add one on Payment methods, then buy again."
	case "billing_info":
		return "", "An order needs your account's billing name and email, and they are missing. Ask " + operator +
			" to add them, then buy again."
	case "auto_charge_saved":
		return "Your auto-charge settings are saved.", ""
	case "auto_billing_on":
		return "Auto-billing is on: renewals are charged to your default payment method.", ""
	case "auto_billing_off":
		return "Auto-billing is off: each renewal invoice waits on Invoices for you to pay it.", ""
	}
	return "", ""
}

// purchaseDeclined says why a purchase was declined, by the order's failure code.
func purchaseDeclined(code string) string {
	why := map[string]string{
		"insufficient_funds": "The card was declined: insufficient funds.",
		"expired_card":       "The card was declined: it has expired.",
		"card_declined":      "The card was declined by its bank.",
		"paypal_declined":    "PayPal declined the payment.",
	}[code]
	if why == "" {
		why = "The payment was declined."
	}
	return why + " Nothing was charged and no credits were added. Check the details with your bank, or make another " +
		"payment method the default and buy again."
}

// creditsBuy buys credits (POST /portal/credits/buy, field credits): an order charged to
// the default payment method (billing.Service.SubmitOrder), once per form however often
// it is sent (field key). A paid order's credits load at once; a card that asks for an
// OTP, or a PayPal approval, continues on the order's page; a wire transfer or a payment
// without an answer yet waits; a decline says why and grants nothing.
func (h *Handler) creditsBuy(w http.ResponseWriter, r *http.Request, v *visit) {
	ctx := r.Context()
	if h.billing == nil {
		h.fail(w, r, v, errors.New("portal: no billing service to order credits with"))
		return
	}
	raw := r.PostForm.Get("credits")
	n, ok := creditsField(raw)
	key := r.PostForm.Get("key")
	if !ok || n <= 0 {
		h.creditsPage(w, r, v, http.StatusUnprocessableEntity, creditsForm{BuyAmount: raw, BuyError: "Enter a whole number of credits to buy."})
		return
	}
	if len(key) != 2*purchaseKeyBytes || strings.Trim(key, "0123456789abcdef") != "" {
		h.creditsPage(w, r, v, http.StatusBadRequest, creditsForm{BuyAmount: raw,
			BuyError: "This form is out of date. Choose the credits to buy again."})
		return
	}
	// One purchase per form: the key is the session's, its hash the amount's.
	principal, idemKey := v.session.ID, "portal:credits:"+key
	sum := sha256.Sum256([]byte("credits=" + strconv.FormatInt(n, 10)))
	var claim sqlstore.Claim
	var err error
	for try := 0; ; try++ {
		claim, err = h.store.ClaimIdempotencyKey(ctx, principal, idemKey, hex.EncodeToString(sum[:]), purchaseLockFor, purchaseKeepFor)
		if billow.ErrorCode(err) != billow.CodeIdempotencyInUse {
			break
		}
		// The same form is being bought by another request (a double click): its
		// answer is this one's, once it has it.
		if try == purchaseWaitTries || !purchaseSleep(ctx, purchaseWait) {
			redirect(w, r, "/portal/credits?result=in_progress")
			return
		}
	}
	switch {
	case billow.ErrorCode(err) == billow.CodeIdempotencyReused:
		h.creditsPage(w, r, v, http.StatusConflict, creditsForm{BuyAmount: raw,
			BuyError: "This form was used for another purchase already. Choose the credits to buy again."})
		return
	case err != nil:
		h.fail(w, r, v, err)
		return
	case claim.Response != nil:
		redirect(w, r, string(claim.Response.Body))
		return
	}
	to, form, err := h.creditsPurchase(ctx, v, n, raw)
	if to == "" {
		// Nothing was bought: the form may be sent again.
		if rerr := h.store.ReleaseIdempotencyKey(context.WithoutCancel(ctx), principal, idemKey); rerr != nil {
			h.logger.ErrorContext(ctx, "release a purchase key", "error", rerr)
		}
		if err != nil {
			h.fail(w, r, v, err)
			return
		}
		h.creditsPage(w, r, v, http.StatusUnprocessableEntity, form)
		return
	}
	if err := h.store.CompleteIdempotencyKey(context.WithoutCancel(ctx), principal, idemKey,
		sqlstore.IdempotentResponse{Status: http.StatusSeeOther, ContentType: "text/uri-list", Body: []byte(to)}); err != nil {
		h.logger.ErrorContext(ctx, "complete a purchase key", "error", err)
	}
	redirect(w, r, to)
}

// creditsPurchase orders n credits with the default payment method and says where the
// browser goes next; "" when nothing was ordered, with the form to show again or an error.
func (h *Handler) creditsPurchase(ctx context.Context, v *visit, n int64, raw string) (string, creditsForm, error) {
	a := v.account
	methods, err := h.store.PaymentMethods(ctx, a.ID)
	if err != nil {
		return "", creditsForm{}, err
	}
	var method *billow.PaymentMethod
	for _, m := range methods {
		if m.Default {
			method = m
		}
	}
	if method == nil {
		return "/portal/credits?result=no_method", creditsForm{}, nil
	}
	// The method is named, not left to the default: the order pays with the method the
	// page showed even if the default changes meanwhile.
	order, err := h.billing.SubmitOrder(ctx, a.ID, billow.SubmitOrderInput{Credits: n, PaymentMethod: method.ID})
	var result string
	switch code := billow.ErrorCode(err); {
	case err == nil:
		switch order.Status {
		case billow.OrderCompleted:
			result = "bought&credits=" + strconv.FormatInt(n, 10)
		case billow.OrderRequiresAction:
			result = "requires_action" // an OTP or a PayPal approval: the order's page asks for it
		case billow.OrderPendingPayment:
			result = "pending"
			if method.Kind == billow.MethodWire {
				result = "pending_wire"
			}
		default:
			result = "declined&code=" + url.QueryEscape(order.FailureCode)
		}
	case code == billow.CodePaymentDeclined && order != nil:
		result = "declined&code=" + url.QueryEscape(order.FailureCode)
	case code == billow.CodePaymentMethodMissing:
		return "/portal/credits?result=no_method", creditsForm{}, nil
	case code == billow.CodeBillingInfoMissing:
		return "/portal/credits?result=billing_info", creditsForm{}, nil
	case code == billow.CodeValidationFailed:
		cat, err := h.store.AccountCatalog(ctx, a)
		if err != nil {
			return "", creditsForm{}, err
		}
		return "", creditsForm{BuyAmount: raw, BuyError: "Choose " + purchaseLimits(cat) + "."}, nil
	default:
		return "", creditsForm{}, err
	}
	h.logger.InfoContext(ctx, "portal credit purchase", "session", v.session.ID, "account", a.ID, "order", order.ID,
		"credits", n, "status", string(order.Status))
	if result == "requires_action" {
		return "/portal/orders/" + url.PathEscape(order.ID), creditsForm{}, nil
	}
	return "/portal/credits?result=" + result, creditsForm{}, nil
}

// purchaseLimits says which purchases the catalog allows: "from 1,000 to 1,000,000
// credits, in multiples of 10".
func purchaseLimits(cat *catalog.Catalog) string {
	s := fmt.Sprintf("from %s to %s credits", groupDigits(strconv.FormatInt(cat.Credits.PurchaseMinCredits, 10)),
		groupDigits(strconv.FormatInt(cat.Credits.PurchaseMaxCredits, 10)))
	if step := creditsStep(cat); step > 1 {
		s += ", in multiples of " + groupDigits(strconv.FormatInt(step, 10))
	}
	return s
}

// purchaseSleep waits d, or less if ctx ends first; it reports whether it waited d.
func purchaseSleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// creditsField reads a whole number of credits as a person types it: digits, maybe
// grouped with commas, spaces or underscores. It reports false for anything else, and
// for an empty field (0, true is "0").
func creditsField(s string) (int64, bool) {
	s = strings.Map(func(r rune) rune {
		switch r {
		case ',', '_', ' ', '\u00a0', '\u202f':
			return -1
		}
		return r
	}, strings.TrimSpace(s))
	if s == "" || len(s) > creditsDigitsMax || strings.Trim(s, "0123456789") != "" {
		return 0, false
	}
	n, err := strconv.ParseInt(s, 10, 64)
	return n, err == nil
}

// transactionsCSV exports the wallet's movements of the days between two dates
// (GET /portal/credits/transactions.csv?from=YYYY-MM-DD&to=YYYY-MM-DD, both days
// included, in the account's time zone, at most billow.TransactionsCSVRangeMax): the file
// GET /v1/accounts/{account}/transactions.csv serves for the same range, written by the
// same billow.WriteTransactionsCSV under the same name.
func (h *Handler) transactionsCSV(w http.ResponseWriter, r *http.Request, v *visit) {
	a := v.account
	loc, err := h.zone(a.Timezone)
	if err != nil {
		h.fail(w, r, v, err)
		return
	}
	from, to, problem := exportRange(r.URL.Query(), loc)
	if problem == "" && to.Sub(from) > billow.TransactionsCSVRangeMax {
		problem = "An export covers at most 366 days; choose a shorter range."
	}
	if problem != "" {
		h.creditsPage(w, r, v, http.StatusBadRequest, creditsForm{CSVError: problem})
		return
	}
	txs, err := h.store.TransactionsBetween(r.Context(), a.ID, from, to)
	if billow.ErrorCode(err) == billow.CodeRequestTooLarge {
		h.creditsPage(w, r, v, http.StatusBadRequest, creditsForm{CSVError: fmt.Sprintf(
			"There are more than %s movements in this range, the most one export holds; choose a shorter range.",
			groupDigits(strconv.Itoa(sqlstore.TransactionsExportRowsMax)))})
		return
	}
	if err != nil {
		h.fail(w, r, v, err)
		return
	}
	var b bytes.Buffer
	if err := billow.WriteTransactionsCSV(&b, txs); err != nil {
		h.fail(w, r, v, err)
		return
	}
	w.Header().Set("Content-Type", "text/csv; charset=utf-8")
	w.Header().Set("Content-Disposition", mime.FormatMediaType("attachment", map[string]string{"filename": billow.TransactionsCSVFileName(a, from)}))
	w.Write(b.Bytes())
}

// autoChargeForm is the form of stored settings.
func autoChargeForm(ac *billow.AutoCharge) *autoChargeView {
	f := &autoChargeView{Enabled: ac.Enabled}
	if ac.ThresholdCredits > 0 {
		f.Threshold = strconv.FormatInt(ac.ThresholdCredits, 10)
	}
	if ac.TopUpCredits > 0 {
		f.TopUp = strconv.FormatInt(ac.TopUpCredits, 10)
	}
	f.Status, f.Tone, f.Detail = autoChargeStatus(ac)
	return f
}

// autoChargeStatus says where auto-charge stands, with the tone of its badge.
func autoChargeStatus(ac *billow.AutoCharge) (status, tone, detail string) {
	switch {
	case ac.Enabled && ac.InFlight:
		status, tone, detail = "On", "ok", "A top-up is under way."
	case ac.Enabled && ac.Failures >= autocharge.FailuresMax:
		status, tone = "Paused", "warn"
		detail = fmt.Sprintf("Paused after %d failed top-ups in a row%s. Save the settings again to resume.", ac.Failures,
			autoChargeFailureText(ac.LastFailureCode))
	case ac.Enabled:
		status, tone = "On", "ok"
	default:
		status, tone = "Off", "neutral"
	}
	if detail == "" && ac.LastOutcome == billow.AutoChargeFailed {
		detail = "The last top-up failed" + autoChargeFailureText(ac.LastFailureCode) + "."
	} else if detail == "" && ac.LastOutcome == billow.AutoChargeSucceeded {
		detail = "The last top-up succeeded."
	}
	return status, tone, detail
}

func autoChargeFailureText(code string) string {
	switch code {
	case "":
		return ""
	case billow.CodeAuthenticationRequired:
		return " (the card asked for a one-time password)"
	case billow.CodePaymentMethodUnsupported:
		return " (a wire transfer cannot be charged automatically)"
	}
	return " (" + strings.ReplaceAll(code, "_", " ") + ")"
}

// describeAutoCharge completes the form with what the page says around it.
func describeAutoCharge(f *autoChargeView, cat *catalog.Catalog, currency string, method *billow.PaymentMethod) {
	cr := cat.Credits
	f.Min, f.Max, f.Step = cr.PurchaseMinCredits, cr.PurchaseMaxCredits, creditsStep(cat)
	for _, n := range cr.PackagesCredits {
		f.Packages = append(f.Packages, strconv.FormatInt(n, 10))
	}
	if n, ok := creditsField(f.Threshold); ok && n > 0 {
		f.ThresholdText = groupDigits(strconv.FormatInt(n, 10)) + " credits"
	}
	if n, ok := creditsField(f.TopUp); ok && n > 0 {
		f.TopUpText = groupDigits(strconv.FormatInt(n, 10)) + " credits"
		if minor, ok := creditsPrice(cat, n); ok {
			f.TopUpText += " (" + money(minor, currency, cat.CurrencyDigits) + ")"
		}
	}
	f.HasErrors = len(f.Errors) > 0
	f.NeedsMethod = method == nil
	if method != nil {
		f.WireDefault = method.Kind == billow.MethodWire
		f.DefaultMethodText = method.Label()
	}
}

// autoChargeSet saves the auto-charge settings (POST /portal/credits/auto-charge, fields
// enabled, threshold_credits, top_up_credits) with autocharge.Service.Set, the API's
// PUT …/auto_charge. A refusal writes nothing and is explained at its field.
func (h *Handler) autoChargeSet(w http.ResponseWriter, r *http.Request, v *visit) {
	if h.autoCharge == nil {
		h.fail(w, r, v, billow.NotFound("page", r.URL.Path))
		return
	}
	ctx := r.Context()
	form := r.PostForm
	f := &autoChargeView{Enabled: form.Get("enabled") == "on", Threshold: strings.TrimSpace(form.Get("threshold_credits")),
		TopUp: strings.TrimSpace(form.Get("top_up_credits")), Errors: map[string]string{}, Status: "Not saved", Tone: "warn"}
	cat, err := h.store.AccountCatalog(ctx, v.account)
	if err != nil {
		h.fail(w, r, v, err)
		return
	}
	threshold, ok := creditsField(f.Threshold)
	if !ok || threshold <= 0 || threshold > billow.AutoChargeCreditsMax {
		f.Errors["threshold"] = fmt.Sprintf("Enter the balance, in whole credits from 1 to %s, below which your balance is low.",
			groupDigits(strconv.FormatInt(billow.AutoChargeCreditsMax, 10)))
	}
	topUp := int64(0)
	if f.TopUp != "" {
		if topUp, ok = creditsField(f.TopUp); !ok {
			f.Errors["top_up"] = "A top-up is a whole number of credits, " + purchaseLimits(cat) + "."
		}
	} else if f.Enabled {
		f.Errors["top_up"] = "Choose how many credits one top-up buys: " + purchaseLimits(cat) + "."
	}
	if len(f.Errors) == 0 {
		_, err := h.autoCharge.Set(ctx, v.account.ID, billow.SetAutoChargeInput{Enabled: f.Enabled, ThresholdCredits: threshold,
			TopUpCredits: topUp})
		if err == nil {
			h.logger.InfoContext(ctx, "portal auto-charge saved", "session", v.session.ID, "account", v.account.ID,
				"enabled", f.Enabled, "threshold_credits", threshold, "top_up_credits", topUp)
			redirect(w, r, "/portal/credits?result=auto_charge_saved#auto-charge")
			return
		}
		if !autoChargeRefusal(err, f, cat, h.brand.Name) {
			h.fail(w, r, v, err)
			return
		}
	}
	h.creditsPage(w, r, v, http.StatusUnprocessableEntity, creditsForm{AutoCharge: f,
		Alert: "Your auto-charge settings are not saved: see why under Auto-charge."})
}

// autoChargeRefusal puts a refusal of autocharge.Service.Set at the field it concerns;
// it reports false for an error that is not a refusal of the input.
func autoChargeRefusal(err error, f *autoChargeView, cat *catalog.Catalog, operator string) bool {
	var e *billow.Error
	if !errors.As(err, &e) {
		return false
	}
	switch e.Code {
	case billow.CodeBillingInfoMissing:
		f.Errors["enabled"] = "A top-up is an order, which needs your account's billing name and email, and they are missing. Ask " +
			operator + " to add them."
	case billow.CodePaymentMethodMissing:
		f.Errors["enabled"] = "Auto-charge charges your default payment method, and there is none. Add a card on Payment methods first."
	case billow.CodePaymentMethodUnsupported:
		f.Errors["enabled"] = "Auto-charge cannot pay by wire transfer. Make a card your default payment method first."
	case billow.CodeValidationFailed:
		for _, fe := range e.Fields {
			switch fe.Field {
			case "threshold_credits":
				f.Errors["threshold"] = fmt.Sprintf("Enter the balance, in whole credits from 1 to %s, below which your balance is low.",
					groupDigits(strconv.FormatInt(billow.AutoChargeCreditsMax, 10)))
			default:
				f.Errors["top_up"] = "This top-up cannot be bought: choose " + purchaseLimits(cat) + "."
			}
		}
		if len(e.Fields) == 0 {
			f.Errors["top_up"] = "This top-up cannot be bought: choose " + purchaseLimits(cat) + "."
		}
	default:
		return false
	}
	return true
}

// autoBillingSet turns auto-billing on or off (POST /portal/credits/auto-billing, field
// auto_billing=on|off): seed 004's Settings toggle, the account's auto_billing as
// PATCH /v1/accounts/{account} sets it. Enterprise accounts' invoices are collected by
// the operator: they have no such setting here.
func (h *Handler) autoBillingSet(w http.ResponseWriter, r *http.Request, v *visit) {
	if v.account.Type == billow.AccountEnterprise {
		h.fail(w, r, v, billow.NotFound("page", r.URL.Path))
		return
	}
	var on bool
	switch r.PostForm.Get("auto_billing") {
	case "on":
		on = true
	case "off":
	default:
		h.creditsPage(w, r, v, http.StatusBadRequest, creditsForm{Alert: "Choose whether auto-billing is on or off."})
		return
	}
	if _, err := h.store.UpdateAccount(r.Context(), v.account.ID, billow.UpdateAccountInput{AutoBilling: &on}); err != nil {
		h.fail(w, r, v, err)
		return
	}
	h.logger.InfoContext(r.Context(), "portal auto-billing set", "session", v.session.ID, "account", v.account.ID, "on", on)
	result := "auto_billing_off"
	if on {
		result = "auto_billing_on"
	}
	redirect(w, r, "/portal/credits?result="+result+"#auto-billing")
}
