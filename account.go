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
	CreatedAt      time.Time         `json:"created_at"`
	UpdatedAt      time.Time         `json:"updated_at"`
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
	return errs.err()
}

// UpdateAccountInput changes the fields of an account that may change after creation.
// Currency, type and catalog do not: invoices and the ledger are denominated in them.
type UpdateAccountInput struct {
	Name           *string           `json:"name,omitempty" maxLength:"200"`
	Timezone       *string           `json:"timezone,omitempty"`
	BillingContact *BillingContact   `json:"billing_contact,omitempty"`
	Metadata       map[string]string `json:"metadata,omitempty" doc:"Replaces the metadata when given."`
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
	return errs.err()
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
