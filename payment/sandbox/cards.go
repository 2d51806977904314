package sandbox

// Test card numbers, in the style of Stripe's test mode. All pass the Luhn check; any
// other Luhn-valid number succeeds like CardVisa. docs/payments.md documents the table.
const (
	CardVisa              = "4242424242424242" // succeeds
	CardMastercard        = "5555555555554444" // succeeds
	CardInsufficientFunds = "4000000000009995" // declined: insufficient_funds
	CardExpired           = "4000000000000069" // declined: expired_card
	CardDeclined          = "4000000000000002" // declined: card_declined
	CardOTP               = "4000002760003184" // requires an OTP step (OTP below)
	CardTimeout           = "4000000000000259" // the charge times out: unknown, then Lookup says succeeded
)

// OTP is the one-time password the sandbox accepts for CardOTP. Any other is wrong.
const OTP = "123456"

// PayPalDeclinePrefix marks a PayPal account whose charges are declined: an email that
// starts with it (any case), such as decline@example.com.
const PayPalDeclinePrefix = "decline@"

// Decline codes the sandbox gives, beside the card ones that share the behaviour's name.
const (
	DeclineOTPInvalid     = "otp_invalid"
	DeclinePayPalDeclined = "paypal_declined"
)

// behaviour is what a charge on a tokenized method does. Tokens and references carry
// it, so that every process sharing a database decides alike without shared state. The
// words must stay stable: stored tokens and references contain them.
type behaviour string

const (
	behaveSucceed           behaviour = "succeed"
	behaveInsufficientFunds behaviour = "insufficient_funds"
	behaveExpiredCard       behaviour = "expired_card"
	behaveCardDeclined      behaviour = "card_declined"
	behaveOTP               behaviour = "otp"
	behaveTimeout           behaviour = "timeout"
	behavePayPal            behaviour = "paypal"
	behavePayPalDecline     behaviour = "paypal_decline"
	behaveWire              behaviour = "wire"
)

// behaviours lists every behaviour, for parsing tokens and references.
var behaviours = [...]behaviour{
	behaveSucceed, behaveInsufficientFunds, behaveExpiredCard, behaveCardDeclined,
	behaveOTP, behaveTimeout, behavePayPal, behavePayPalDecline, behaveWire,
}

// testCard is one row of the documented table.
type testCard struct {
	number    string
	brand     string
	behaviour behaviour
}

// testCards are the card numbers with a behaviour of their own.
var testCards = [...]testCard{
	{CardVisa, brandVisa, behaveSucceed},
	{CardMastercard, brandMastercard, behaveSucceed},
	{CardInsufficientFunds, brandVisa, behaveInsufficientFunds},
	{CardExpired, brandVisa, behaveExpiredCard},
	{CardDeclined, brandVisa, behaveCardDeclined},
	{CardOTP, brandVisa, behaveOTP},
	{CardTimeout, brandVisa, behaveTimeout},
}

// cardBehaviour returns what charges on a card number (digits only) do.
func cardBehaviour(digits string) behaviour {
	for _, c := range testCards {
		if c.number == digits {
			return c.behaviour
		}
	}
	return behaveSucceed
}

// Card brands, as shown on payment methods and invoices.
const (
	brandVisa       = "Visa"
	brandMastercard = "Mastercard"
	brandAmex       = "American Express"
	brandDiscover   = "Discover"
)

// cardBrand names the brand of a card number (digits only) from its leading digits, or
// returns "" when it is none of the brands above (billow.PaymentMethod.Label then says
// "Card").
func cardBrand(digits string) string {
	prefix := func(n int) int {
		if len(digits) < n {
			return -1
		}
		v := 0
		for _, c := range digits[:n] {
			v = v*10 + int(c-'0')
		}
		return v
	}
	switch p2, p3, p4 := prefix(2), prefix(3), prefix(4); {
	case prefix(1) == 4:
		return brandVisa
	case p2 >= 51 && p2 <= 55, p4 >= 2221 && p4 <= 2720:
		return brandMastercard
	case p2 == 34, p2 == 37:
		return brandAmex
	case p4 == 6011, p2 == 65, p3 >= 644 && p3 <= 649:
		return brandDiscover
	}
	return ""
}
