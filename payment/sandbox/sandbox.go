// Package sandbox is Billow's built-in payment gateway, the default for the demo and for
// tests, like Stripe's test mode: it implements billow.PaymentGateway and moves no money.
// Documented test card numbers (cards.go) decline, ask for an OTP or time out; PayPal
// accounts need an approval; wire transfers stay pending until the operator records the
// clearance in Billow.
//
// It owns the decision a charge gets and nothing else. Several Billow processes may share
// one database, so the decision travels in the strings Billow stores: a token names the
// behaviour of its method ("tok_sandbox_<behaviour>_<random>") and a charge reference
// names the behaviour and the idempotency key's hash ("ch_sandbox_<behaviour>_<hash>").
// Charge and Confirm therefore decide alike in every process. Only Lookup and the replay
// of a repeated idempotency key read memory: a bounded record of this process's charges,
// which a restart forgets (docs/payments.md).
package sandbox

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"strings"
	"sync"

	"github.com/billowhq/billow"
)

// Name is the gateway's name, stored with each payment method.
const Name = "sandbox"

// Limits of the sandbox, named with their unit last.
const (
	// ChargeRecordsMax bounds the charges a Gateway remembers for Lookup and for replaying
	// a repeated idempotency key; beyond it the oldest is forgotten.
	ChargeRecordsMax = 100_000
	// IdempotencyKeyMaxBytes bounds an idempotency key (Billow passes a payment id).
	IdempotencyKeyMaxBytes = 255
)

// ApproveURLBase is where a sandbox PayPal buyer would approve a payment: the charge's
// reference follows it. The .invalid domain never resolves; Confirm(ref, "") approves.
const ApproveURLBase = "https://sandbox.billow.invalid/paypal/approve/"

// Prefixes of the strings the sandbox hands out.
const (
	tokenPrefix     = "tok_sandbox_"
	referencePrefix = "ch_sandbox_"
)

// idHexLen is the length of the random part of a token and of the hash part of a
// reference: 16 bytes in hex.
const idHexLen = 32

// digitRunMax bounds the digits in a row in tokens and references. Card numbers have 13
// to 19 digits; nothing the sandbox returns may look like one to a reader, a log
// scrubber or a test.
const digitRunMax = 12

// Gateway is the sandbox payment gateway. Its zero value is not usable; call New.
type Gateway struct {
	clock      billow.Clock
	recordsMax int // ChargeRecordsMax; a field so that tests can reach the bound

	mu      sync.Mutex         // protects following fields
	records map[string]*record // by charge id, the hash part of a reference
	order   []string           // charge ids in the order recorded; a ring once full
	oldest  int                // index in order of the oldest id once order is full
}

// record is what the sandbox remembers of one charge.
type record struct {
	fingerprint [sha256.Size]byte // of token, amount and currency: a reused key must ask the same
	result      billow.ChargeResult
}

// New returns a sandbox gateway that reads the time (for card expiry) from clock.
func New(clock billow.Clock) *Gateway {
	if clock == nil {
		panic("sandbox.New: nil clock")
	}
	return &Gateway{clock: clock, recordsMax: ChargeRecordsMax, records: make(map[string]*record)}
}

var _ billow.PaymentGateway = (*Gateway)(nil)

// Name returns "sandbox".
func (g *Gateway) Name() string { return Name }

// Tokenize returns a token for a card, a PayPal account or a wire transfer. It returns
// the input's validation error (KindInvalid, billow.CodeValidationFailed) for a malformed
// input, and a KindInvalid error with code billow.CodePaymentDeclined on card.exp_year
// (or card.exp_month, within the current year) for a card whose expiry is past by the
// gateway's clock: a card is valid through the last day of its expiry month, in UTC.
func (g *Gateway) Tokenize(ctx context.Context, in billow.AddPaymentMethodInput) (billow.TokenizedMethod, error) {
	if err := ctx.Err(); err != nil {
		return billow.TokenizedMethod{}, err
	}
	if err := in.Validate(); err != nil {
		return billow.TokenizedMethod{}, err
	}
	switch in.Kind {
	case billow.MethodCard:
		now := g.clock.Now().UTC()
		card := in.Card
		if card.ExpYear < int64(now.Year()) {
			return billow.TokenizedMethod{}, billow.FieldErrorf(billow.CodePaymentDeclined, "card.exp_year",
				"the card expired at the end of %02d/%d", card.ExpMonth, card.ExpYear)
		}
		if card.ExpYear == int64(now.Year()) && card.ExpMonth < int64(now.Month()) {
			return billow.TokenizedMethod{}, billow.FieldErrorf(billow.CodePaymentDeclined, "card.exp_month",
				"the card expired at the end of %02d/%d", card.ExpMonth, card.ExpYear)
		}
		digits := billow.CardDigits(card.Number) // 12 to 19 digits: Validate checked
		return billow.TokenizedMethod{
			Token:    newToken(cardBehaviour(digits)),
			Brand:    cardBrand(digits),
			Last4:    digits[len(digits)-4:],
			ExpMonth: card.ExpMonth,
			ExpYear:  card.ExpYear,
		}, nil
	case billow.MethodPayPal:
		b := behavePayPal
		if strings.HasPrefix(strings.ToLower(in.PayPalEmail), PayPalDeclinePrefix) {
			b = behavePayPalDecline
		}
		return billow.TokenizedMethod{Token: newToken(b)}, nil
	case billow.MethodWire:
		return billow.TokenizedMethod{Token: newToken(behaveWire)}, nil
	}
	panic(fmt.Sprintf("sandbox: Validate accepted payment method kind %q", in.Kind))
}

// Charge decides a charge from the behaviour its token carries. A key this process has
// seen returns the recorded result without deciding again; the same key with another
// token, amount or currency is a KindConflict error with billow.CodeIdempotencyReused.
// An invalid request (no key, no sandbox token, an amount not above zero, a malformed
// currency) is a KindInvalid error with billow.CodeValidationFailed: a bug of the caller.
//
// The timeout card's first charge answers ChargeUnknown, as if the reply was lost; the
// charge did succeed, and Lookup and a repeated Charge with the same key say so.
func (g *Gateway) Charge(ctx context.Context, req billow.ChargeRequest) (billow.ChargeResult, error) {
	if err := ctx.Err(); err != nil {
		return billow.ChargeResult{}, err
	}
	b, err := validateCharge(req)
	if err != nil {
		return billow.ChargeResult{}, err
	}
	id := chargeID(req.IdempotencyKey)
	fp := fingerprint(req)

	g.mu.Lock()
	defer g.mu.Unlock()
	if rec, ok := g.records[id]; ok {
		if rec.fingerprint != fp {
			return billow.ChargeResult{}, billow.Errorf(billow.KindConflict, billow.CodeIdempotencyReused,
				"sandbox: idempotency key %q was used for another charge", req.IdempotencyKey)
		}
		return rec.result, nil
	}
	ref := referencePrefix + string(b) + "_" + id
	truth := outcome(b, ref)
	g.remember(id, &record{fingerprint: fp, result: truth})
	if b == behaveTimeout {
		return billow.ChargeResult{Status: billow.ChargeUnknown, Reference: ref,
			Message: "sandbox: the gateway did not answer in time (test card)"}, nil
	}
	return truth, nil
}

// Confirm finishes a charge that required an action, from its reference alone: the OTP
// card's charge succeeds with OTP and is declined with DeclineOTPInvalid otherwise (the
// sandbox does not count attempts; Billow does); a PayPal charge is approved when otp is
// "". A reference that is not the sandbox's, or an OTP given for PayPal, is a KindInvalid
// error with billow.CodeValidationFailed; a charge that awaits no action is a
// KindConflict error with billow.CodeTransitionRefused.
func (g *Gateway) Confirm(ctx context.Context, reference, otp string) (billow.ChargeResult, error) {
	if err := ctx.Err(); err != nil {
		return billow.ChargeResult{}, err
	}
	b, id, ok := parseID(reference, referencePrefix)
	if !ok {
		return billow.ChargeResult{}, billow.FieldErrorf(billow.CodeValidationFailed, "reference", "is not a sandbox charge reference")
	}
	var res billow.ChargeResult
	switch b {
	case behaveOTP:
		if otp != OTP {
			return billow.ChargeResult{Status: billow.ChargeDeclined, Reference: reference,
				DeclineCode: DeclineOTPInvalid, Message: "sandbox: the OTP is wrong"}, nil
		}
		res = billow.ChargeResult{Status: billow.ChargeSucceeded, Reference: reference}
	case behavePayPal:
		if otp != "" {
			return billow.ChargeResult{}, billow.FieldErrorf(billow.CodeValidationFailed, "otp", "a PayPal approval takes no OTP")
		}
		res = billow.ChargeResult{Status: billow.ChargeSucceeded, Reference: reference}
	default:
		return billow.ChargeResult{}, billow.Errorf(billow.KindConflict, billow.CodeTransitionRefused,
			"sandbox: charge %q awaits no action", reference)
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if rec, ok := g.records[id]; ok {
		rec.result = res
	}
	return res, nil
}

// Lookup returns what the charge with idempotencyKey stands at now, as far as this
// process remembers: the timeout card's charge has succeeded, a confirmed one succeeded.
// A key this process has no record of (another process charged it, a restart or
// ChargeRecordsMax forgot it, or it was never charged) answers ChargeUnknown.
func (g *Gateway) Lookup(ctx context.Context, idempotencyKey string) (billow.ChargeResult, error) {
	if err := ctx.Err(); err != nil {
		return billow.ChargeResult{}, err
	}
	if err := validateKey(idempotencyKey); err != nil {
		return billow.ChargeResult{}, err
	}
	id := chargeID(idempotencyKey)
	g.mu.Lock()
	defer g.mu.Unlock()
	if rec, ok := g.records[id]; ok {
		return rec.result, nil
	}
	return billow.ChargeResult{Status: billow.ChargeUnknown, Message: "sandbox: no record of this charge in this process"}, nil
}

// remember records a charge, forgetting the oldest once ChargeRecordsMax are kept.
// g.mu must be held.
func (g *Gateway) remember(id string, rec *record) {
	if len(g.order) < g.recordsMax {
		g.order = append(g.order, id)
	} else {
		delete(g.records, g.order[g.oldest])
		g.order[g.oldest] = id
		g.oldest = (g.oldest + 1) % len(g.order)
	}
	g.records[id] = rec
	if len(g.records) != len(g.order) {
		panic(fmt.Sprintf("sandbox: %d charge records but %d in order", len(g.records), len(g.order)))
	}
}

// outcome is what a charge of behaviour b with reference ref has come to, once any
// lost reply is found again.
func outcome(b behaviour, ref string) billow.ChargeResult {
	res := billow.ChargeResult{Reference: ref}
	switch b {
	case behaveSucceed, behaveTimeout:
		res.Status = billow.ChargeSucceeded
	case behaveInsufficientFunds:
		res.Status, res.DeclineCode, res.Message = billow.ChargeDeclined, string(b), "sandbox: the card has insufficient funds"
	case behaveExpiredCard:
		res.Status, res.DeclineCode, res.Message = billow.ChargeDeclined, string(b), "sandbox: the card has expired"
	case behaveCardDeclined:
		res.Status, res.DeclineCode, res.Message = billow.ChargeDeclined, string(b), "sandbox: the card was declined"
	case behaveOTP:
		res.Status, res.Action, res.Message = billow.ChargeRequiresAction, billow.ActionOTP, "sandbox: the card holder must enter an OTP"
	case behavePayPal:
		res.Status, res.Action, res.ApproveURL = billow.ChargeRequiresAction, billow.ActionPayPalApproval, ApproveURLBase+ref
		res.Message = "sandbox: the buyer must approve the payment at PayPal"
	case behavePayPalDecline:
		res.Status, res.DeclineCode, res.Message = billow.ChargeDeclined, DeclinePayPalDeclined, "sandbox: PayPal declined the payment"
	case behaveWire:
		res.Status, res.Message = billow.ChargePending, "sandbox: awaiting the wire transfer; the operator records its clearance"
	default:
		panic(fmt.Sprintf("sandbox: behaviour %q has no outcome", b))
	}
	return res
}

// validateCharge reports every invalid field of req at once and returns the behaviour
// of its token.
func validateCharge(req billow.ChargeRequest) (behaviour, error) {
	var fields []billow.FieldError
	if err := validateKey(req.IdempotencyKey); err != nil {
		fields = append(fields, err.Fields...)
	}
	b, _, ok := parseID(req.Token, tokenPrefix)
	switch {
	case req.Token == "":
		fields = append(fields, billow.FieldError{Field: "token", Message: "is required"})
	case !ok:
		fields = append(fields, billow.FieldError{Field: "token", Message: "is not a sandbox token"})
	}
	if req.AmountMinor <= 0 {
		fields = append(fields, billow.FieldError{Field: "amount_minor", Message: "must be above zero"})
	}
	if len(req.Currency) != 3 || strings.Trim(req.Currency, "ABCDEFGHIJKLMNOPQRSTUVWXYZ") != "" {
		fields = append(fields, billow.FieldError{Field: "currency", Message: "must be an ISO 4217 code such as USD"})
	}
	if len(fields) > 0 {
		return "", &billow.Error{Kind: billow.KindInvalid, Code: billow.CodeValidationFailed,
			Message: "sandbox: invalid charge request", Fields: fields}
	}
	return b, nil
}

// validateKey checks an idempotency key.
func validateKey(key string) *billow.Error {
	switch {
	case key == "":
		return billow.FieldErrorf(billow.CodeValidationFailed, "idempotency_key", "is required")
	case len(key) > IdempotencyKeyMaxBytes:
		return billow.FieldErrorf(billow.CodeValidationFailed, "idempotency_key", "must be at most %d bytes", IdempotencyKeyMaxBytes)
	}
	return nil
}

// newToken returns a fresh token for a method of behaviour b.
func newToken(b behaviour) string {
	var raw [idHexLen / 2]byte
	rand.Read(raw[:]) // never fails: crypto/rand crashes the program instead
	h := []byte(hex.EncodeToString(raw[:]))
	breakDigitRuns(h)
	return tokenPrefix + string(b) + "_" + string(h)
}

// chargeID is the hash part of the reference of the charge with an idempotency key: the
// same in every process.
func chargeID(key string) string {
	sum := sha256.Sum256([]byte("billow sandbox charge\x00" + key))
	h := []byte(hex.EncodeToString(sum[:idHexLen/2]))
	breakDigitRuns(h)
	return string(h)
}

// fingerprint hashes what a charge asks, so that a reused key asking something else is
// told apart from a retry.
func fingerprint(req billow.ChargeRequest) [sha256.Size]byte {
	h := sha256.New()
	for _, s := range []string{req.Token, req.Currency} {
		binary.Write(h, binary.BigEndian, uint64(len(s))) // writes to a hash never fail
		h.Write([]byte(s))
	}
	binary.Write(h, binary.BigEndian, req.AmountMinor)
	var sum [sha256.Size]byte
	h.Sum(sum[:0])
	return sum
}

// breakDigitRuns rewrites, in place, every digit that would make a run of more than
// digitRunMax digits in hex text into a letter a–f, so that the text can never be read
// as a card number. The text stays hex; the rare rewrite costs a little randomness.
func breakDigitRuns(h []byte) {
	run := 0
	for i, c := range h {
		if c < '0' || c > '9' {
			run = 0
			continue
		}
		if run == digitRunMax {
			h[i] = 'a' + (c-'0')%6
			run = 0
			continue
		}
		run++
	}
}

// parseID splits a token or reference "<prefix><behaviour>_<32 hex>" and reports whether
// it is well formed with a known behaviour.
func parseID(s, prefix string) (b behaviour, id string, ok bool) {
	rest, found := strings.CutPrefix(s, prefix)
	if !found {
		return "", "", false
	}
	i := strings.LastIndexByte(rest, '_')
	if i < 0 {
		return "", "", false
	}
	b, id = behaviour(rest[:i]), rest[i+1:]
	if len(id) != idHexLen || strings.Trim(id, "0123456789abcdef") != "" {
		return "", "", false
	}
	for _, known := range behaviours {
		if b == known {
			return b, id, true
		}
	}
	return "", "", false
}
