package billow

import "strings"

// PaymentMethodIDMaxBytes bounds the id of a payment method a caller names.
const PaymentMethodIDMaxBytes = 40

// SetDefaultPaymentMethodInput makes one of an account's stored payment methods its
// default: the method renewals (with auto-billing on), Pay now, credit purchases and
// auto-charge top-ups are charged to. An account has exactly one default once it has a
// method.
type SetDefaultPaymentMethodInput struct {
	Account string `json:"-"` // the account's id
	Method  string `json:"-"` // the method's id, pm_…
}

// Validate reports every invalid field at once.
func (in *SetDefaultPaymentMethodInput) Validate() error {
	var errs fieldErrors
	if strings.TrimSpace(in.Account) == "" {
		errs.add("account", "is required")
	}
	switch {
	case in.Method == "":
		errs.add("payment_method", "is required")
	case len(in.Method) > PaymentMethodIDMaxBytes || hasControl(in.Method):
		errs.add("payment_method", "must be a payment method's id, at most %d bytes", PaymentMethodIDMaxBytes)
	}
	return errs.err()
}
