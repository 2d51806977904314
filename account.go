package billow

import (
	"maps"
	"net/mail"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/currency"
	"golang.org/x/text/language"
)

// Limits on account fields, named with their unit last.
const (
	ExternalIDMaxBytes    = 255
	NameMaxBytes          = 200
	MetadataMaxKeys       = 20
	MetadataKeyMaxBytes   = 40
	MetadataValueMaxBytes = 500
	AddressLineMaxBytes   = 200
	EmailMaxBytes         = 254
)

// AccountType says how an account is billed.
type AccountType string

const (
	// AccountStandard is self-serve: it pays by card, PayPal or wire and sees its invoices.
	AccountStandard AccountType = "standard"
	// AccountEnterprise is billed under a contract; its invoices are the operator's, not shown to it (seed 000).
	AccountEnterprise AccountType = "enterprise"
)

// Account is a customer of the operator that is billed.
type Account struct {
	ID         string      `json:"id"`
	ExternalID string      `json:"external_id"`
	Name       string      `json:"name"`
	Type       AccountType `json:"type" enum:"standard,enterprise"`
	// Currency is the ISO 4217 code every amount of this account is in.
	Currency string `json:"currency"`
	// Timezone is the IANA zone usage is bucketed in for this account.
	Timezone string `json:"timezone"`
	// Catalog and CatalogVersion are the catalog the account signed; they change only by migration.
	Catalog        string            `json:"catalog"`
	CatalogVersion int64             `json:"catalog_version"`
	Plan           string            `json:"plan,omitempty"`
	BillingContact BillingContact    `json:"billing_contact"`
	Metadata       map[string]string `json:"metadata,omitempty"`
	// AutoBilling charges each renewal to the default payment method (seed 004); off,
	// an open invoice waits for payment.
	AutoBilling bool `json:"auto_billing"`
	// TaxRate is a percentage as a decimal string ("8.25"), shown as its own invoice line.
	TaxRate string `json:"tax_rate"`
	// SubscriptionStatus mirrors the status of the account's latest subscription, so that
	// checks read it with the account; "" when it never subscribed.
	SubscriptionStatus SubscriptionStatus `json:"subscription_status,omitempty"`
	// TestClock is the test clock the account's billing follows; "" for the real time.
	TestClock string `json:"test_clock,omitempty"`
	// Contract is an enterprise account's contract, nil when it has none. It is the
	// operator's business and is read through the contract's own operator-only route,
	// never shown with the account.
	Contract  *Contract `json:"-"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

// BillingContact is who invoices are addressed to.
type BillingContact struct {
	Name    string  `json:"name,omitempty" maxLength:"200"`
	Email   string  `json:"email,omitempty" maxLength:"254"`
	Phone   string  `json:"phone,omitempty" maxLength:"40"`
	Company string  `json:"company,omitempty" maxLength:"200"`
	TaxID   string  `json:"tax_id,omitempty" maxLength:"64"`
	Address Address `json:"address,omitempty"`
}

// Address is a postal address; Country is an ISO 3166-1 alpha-2 code.
type Address struct {
	Line1      string `json:"line1,omitempty" maxLength:"200"`
	Line2      string `json:"line2,omitempty" maxLength:"200"`
	City       string `json:"city,omitempty" maxLength:"200"`
	State      string `json:"state,omitempty" maxLength:"200"`
	PostalCode string `json:"postal_code,omitempty" maxLength:"20"`
	Country    string `json:"country,omitempty" maxLength:"2"`
}

// CreateAccountInput creates an account. Catalog and plan are checked against the catalog
// by the service, since validation here has no I/O.
type CreateAccountInput struct {
	ExternalID     string            `json:"external_id" maxLength:"255" doc:"The platform's id for this account; unique."`
	Name           string            `json:"name" maxLength:"200"`
	Type           AccountType       `json:"type,omitempty" enum:"standard,enterprise" doc:"Defaults to standard."`
	Currency       string            `json:"currency,omitempty" doc:"ISO 4217 code; defaults to the catalog's currency."`
	Timezone       string            `json:"timezone,omitempty" doc:"IANA time zone; defaults to UTC."`
	Catalog        string            `json:"catalog,omitempty" doc:"Catalog key; defaults to the operator's default catalog."`
	Plan           string            `json:"plan,omitempty" doc:"Plan key in the catalog."`
	BillingContact BillingContact    `json:"billing_contact,omitempty"`
	Metadata       map[string]string `json:"metadata,omitempty"`
	AutoBilling    *bool             `json:"auto_billing,omitempty" doc:"Charge renewals to the default payment method; defaults to true."`
	TaxRate        string            `json:"tax_rate,omitempty" doc:"Tax rate in percent, e.g. \"8.25\"; defaults to 0."`
	TestClock      string            `json:"test_clock,omitempty" doc:"A test clock id: the account's billing follows it instead of the real time. Only at creation."`
}

// Normalize fills defaults that need no catalog and trims what users paste with spaces.
func (in *CreateAccountInput) Normalize() {
	in.ExternalID = strings.TrimSpace(in.ExternalID)
	in.Name = strings.TrimSpace(in.Name)
	if in.Type == "" {
		in.Type = AccountStandard
	}
	if in.Timezone == "" {
		in.Timezone = "UTC"
	}
	in.BillingContact.normalize()
}

// Validate reports every invalid field at once.
func (in *CreateAccountInput) Validate() error {
	var errs fieldErrors
	validateExternalID(&errs, "external_id", in.ExternalID, PrefixAccount)
	validateName(&errs, "name", in.Name, true)
	switch in.Type {
	case AccountStandard, AccountEnterprise:
	default:
		errs.add("type", "must be standard or enterprise, not %q", in.Type)
	}
	if in.Currency != "" {
		validateCurrency(&errs, "currency", in.Currency)
	}
	validateTimezone(&errs, "timezone", in.Timezone)
	in.BillingContact.validate(&errs, "billing_contact")
	validateMetadata(&errs, "metadata", in.Metadata)
	if in.TaxRate != "" {
		validateTaxRate(&errs, "tax_rate", in.TaxRate)
	}
	if in.TestClock != "" && !IsID(in.TestClock, PrefixTestClock) {
		errs.add("test_clock", "must be a test clock id (%s…)", PrefixTestClock)
	}
	return errs.err()
}

// UpdateAccountInput changes the fields of an account that may change after creation.
// Currency, type and catalog do not: invoices and the ledger are denominated in them.
type UpdateAccountInput struct {
	Name           *string           `json:"name,omitempty" maxLength:"200"`
	Timezone       *string           `json:"timezone,omitempty"`
	BillingContact *BillingContact   `json:"billing_contact,omitempty"`
	Metadata       map[string]string `json:"metadata,omitempty" doc:"Replaces the metadata when given."`
	AutoBilling    *bool             `json:"auto_billing,omitempty" doc:"Turn auto-billing on or off (seed 004, Settings)."`
	TaxRate        *string           `json:"tax_rate,omitempty" doc:"Tax rate in percent for future invoices."`
}

// Validate reports every invalid field at once.
func (in *UpdateAccountInput) Validate() error {
	var errs fieldErrors
	if in.Name != nil {
		*in.Name = strings.TrimSpace(*in.Name)
		validateName(&errs, "name", *in.Name, true)
	}
	if in.Timezone != nil {
		validateTimezone(&errs, "timezone", *in.Timezone)
	}
	if in.BillingContact != nil {
		in.BillingContact.normalize()
		in.BillingContact.validate(&errs, "billing_contact")
	}
	validateMetadata(&errs, "metadata", in.Metadata)
	if in.TaxRate != nil {
		validateTaxRate(&errs, "tax_rate", *in.TaxRate)
	}
	return errs.err()
}

// Tax rates are percentages written as decimal strings.
const (
	// TaxRateFractionDigitsMax is the most fractional digits a rate is written with
	// ("8.2500", "7.1234"): a rate is then a whole number of ten-thousandths of a percent.
	TaxRateFractionDigitsMax = 4
	// TaxRatePercentMax is the highest rate.
	TaxRatePercentMax = 100
	// TaxRateScale is 10^TaxRateFractionDigitsMax: a rate times it is an integer.
	TaxRateScale = 10_000
)

// ParseTaxRate returns a tax rate in ten-thousandths of a percent (8.25% is 82,500). A
// rate is a decimal string such as "8.25" or "0", from 0 to 100, with at most four
// fractional digits, no sign, no exponent, no spaces and no leading zero ("08.5"). The
// empty string is not a rate: an account without tax has "0". The error is an
// invalid-input *Error naming the field tax_rate.
func ParseTaxRate(ratePercent string) (int64, error) {
	whole, frac, hasPoint := strings.Cut(ratePercent, ".")
	// An integer part of one to three digits without a leading zero (which also keeps
	// the value far inside an int64), then one to four fractional digits after a point.
	ok := len(whole) >= 1 && len(whole) <= 3 && allDigits(whole) &&
		(whole == "0" || whole[0] != '0') &&
		(!hasPoint || len(frac) >= 1 && len(frac) <= TaxRateFractionDigitsMax && allDigits(frac))
	if !ok {
		return 0, FieldErrorf(CodeValidationFailed, "tax_rate",
			"must be a percentage such as 8.25, from 0 to %d with at most %d decimals, not %q",
			TaxRatePercentMax, TaxRateFractionDigitsMax, ratePercent)
	}
	var rate int64
	for _, c := range whole + frac + strings.Repeat("0", TaxRateFractionDigitsMax-len(frac)) {
		rate = rate*10 + int64(c-'0')
	}
	if rate > TaxRatePercentMax*TaxRateScale {
		return 0, FieldErrorf(CodeValidationFailed, "tax_rate", "must be at most %d%%, not %s%%", TaxRatePercentMax, ratePercent)
	}
	return rate, nil
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

func validateTaxRate(errs *fieldErrors, field, rate string) {
	if _, err := ParseTaxRate(rate); err != nil {
		errs.add(field, "%s", err.(*Error).Message)
	}
}

// MigrateCatalogInput moves an account to another version of its catalog.
type MigrateCatalogInput struct {
	ToVersion int64  `json:"to_version" minimum:"1"`
	Plan      string `json:"plan,omitempty" doc:"Plan in the new version; defaults to the current plan's key."`
}

// Validate checks the input's own fields.
func (in *MigrateCatalogInput) Validate() error {
	var errs fieldErrors
	if in.ToVersion < 1 {
		errs.add("to_version", "must be a version number, 1 or more")
	}
	return errs.err()
}

func (c *BillingContact) normalize() {
	c.Email = strings.ToLower(strings.TrimSpace(c.Email))
	c.Address.Country = strings.ToUpper(strings.TrimSpace(c.Address.Country))
}

func (c *BillingContact) validate(errs *fieldErrors, field string) {
	validateName(errs, field+".name", c.Name, false)
	validateName(errs, field+".company", c.Company, false)
	if c.Email != "" {
		validateEmail(errs, field+".email", c.Email)
	}
	for _, f := range []struct{ name, value string }{
		{"phone", c.Phone}, {"tax_id", c.TaxID}, {"address.line1", c.Address.Line1}, {"address.line2", c.Address.Line2},
		{"address.city", c.Address.City}, {"address.state", c.Address.State}, {"address.postal_code", c.Address.PostalCode},
	} {
		if len(f.value) > AddressLineMaxBytes || hasControl(f.value) {
			errs.add(field+"."+f.name, "must be at most %d bytes of printable text", AddressLineMaxBytes)
		}
	}
	if c.Address.Country != "" {
		if r, err := language.ParseRegion(c.Address.Country); err != nil || len(c.Address.Country) != 2 || !r.IsCountry() {
			errs.add(field+".address.country", "must be an ISO 3166-1 alpha-2 country code, not %q", c.Address.Country)
		}
	}
}

func validateExternalID(errs *fieldErrors, field, v, idPrefix string) {
	switch {
	case v == "":
		errs.add(field, "is required")
	case len(v) > ExternalIDMaxBytes:
		errs.add(field, "must be at most %d bytes", ExternalIDMaxBytes)
	case !utf8.ValidString(v) || strings.ContainsFunc(v, func(r rune) bool { return unicode.IsSpace(r) || unicode.IsControl(r) }):
		errs.add(field, "must be printable text without spaces")
	case strings.HasPrefix(v, idPrefix):
		// Resources are addressed by id or external id in one path segment; an external id
		// shaped like a Billow id would make that ambiguous.
		errs.add(field, "must not start with %q, which Billow ids use", idPrefix)
	}
}

func validateName(errs *fieldErrors, field, v string, required bool) {
	switch {
	case v == "" && required:
		errs.add(field, "is required")
	case len(v) > NameMaxBytes:
		errs.add(field, "must be at most %d bytes", NameMaxBytes)
	case !utf8.ValidString(v) || hasControl(v):
		errs.add(field, "must be printable text")
	}
}

func validateEmail(errs *fieldErrors, field, v string) {
	addr, err := mail.ParseAddress(v)
	if err != nil || addr.Address != v || len(v) > EmailMaxBytes {
		errs.add(field, "must be an email address such as name@example.com")
	}
}

func validateCurrency(errs *fieldErrors, field, v string) {
	if len(v) != 3 || strings.ToUpper(v) != v {
		errs.add(field, "must be an upper-case ISO 4217 code such as USD, not %q", v)
		return
	}
	if _, err := currency.ParseISO(v); err != nil {
		errs.add(field, "%q is not an ISO 4217 currency code", v)
	}
}

func validateTimezone(errs *fieldErrors, field, v string) {
	// "Local" would mean the server's zone, which differs between machines.
	if v == "" || v == "Local" {
		errs.add(field, "must be an IANA time zone such as Europe/Berlin")
		return
	}
	if _, err := time.LoadLocation(v); err != nil {
		errs.add(field, "%q is not an IANA time zone", v)
	}
}

func validateMetadata(errs *fieldErrors, field string, m map[string]string) {
	if len(m) > MetadataMaxKeys {
		errs.add(field, "must have at most %d keys", MetadataMaxKeys)
		return
	}
	for _, k := range slices.Sorted(maps.Keys(m)) {
		v := m[k]
		if k == "" || len(k) > MetadataKeyMaxBytes || hasControl(k) {
			errs.add(field+"."+k, "keys must be 1 to %d bytes of printable text", MetadataKeyMaxBytes)
		}
		if len(v) > MetadataValueMaxBytes || hasControl(v) {
			errs.add(field+"."+k, "values must be at most %d bytes of printable text", MetadataValueMaxBytes)
		}
	}
}

func hasControl(s string) bool {
	return strings.ContainsFunc(s, unicode.IsControl)
}
