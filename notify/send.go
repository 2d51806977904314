package notify

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"maps"
	"net/mail"
	"slices"
	"strconv"
	"strings"

	"github.com/billowhq/billow"
	"github.com/billowhq/billow/emails"
)

// Limits of a send, named with their unit last.
const (
	// LocaleMaxBytes bounds a locale tag ("pt-BR").
	LocaleMaxBytes = 35
	// DataFieldsMax bounds the fields of one send's data; no template reads more than ten.
	DataFieldsMax = 50
)

// Recipient is an address a product email is sent to.
type Recipient struct {
	Email string `json:"email" maxLength:"254"`
	Name  string `json:"name,omitempty" maxLength:"200" doc:"Used in the greeting."`
}

// SendInput asks for a product email (POST /v1/notifications): the platform owns
// identity, Billow renders and delivers. The recipients are either given (to) or the
// members of the account having one of roles.
type SendInput struct {
	Template string `json:"template" maxLength:"64" doc:"A product email of the catalogue (GET /v1/notification_templates)."`
	Locale   string `json:"locale,omitempty" maxLength:"35" doc:"A language tag such as en or pt-BR; the default locale when the templates have none for it."`
	Account  string `json:"account,omitempty" maxLength:"255" doc:"The account the email is about (id or external id): its members for roles, its branding for the powered-by line. An account key sends for its own account only."`
	// To and Roles: exactly one.
	To    []Recipient    `json:"to,omitempty" maxItems:"50"`
	Roles []billow.Role  `json:"roles,omitempty" maxItems:"4" doc:"Send to the account's members having any of these roles (owner, admin, billing, developer)."`
	Data  map[string]any `json:"data" doc:"The template's fields. Secret fields (codes, links) are in the email and nowhere else."`
}

// Validate reports every invalid field at once. It names fields, never their values:
// a request may carry a one-time code.
func (in *SendInput) Validate() error {
	var errs []billow.FieldError
	add := func(field, msg string) { errs = append(errs, billow.FieldError{Field: field, Message: msg}) }
	in.Template = strings.TrimSpace(in.Template)
	in.Locale = strings.TrimSpace(in.Locale)
	if t, ok := emails.Lookup(in.Template); !ok {
		add("template", "is not an email of the catalogue")
	} else if t.Group != emails.GroupProduct {
		add("template", "is sent by Billow on its own billing events, not by request")
	}
	if len(in.Locale) > LocaleMaxBytes || strings.ContainsFunc(in.Locale, func(r rune) bool {
		return !(r == '-' || r == '_' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9')
	}) {
		add("locale", "must be a language tag such as en or pt-BR")
	}
	switch {
	case len(in.To) == 0 && len(in.Roles) == 0:
		add("to", "give the recipients, or roles of the account's members")
	case len(in.To) > 0 && len(in.Roles) > 0:
		add("roles", "give either to or roles, not both")
	case len(in.Roles) > 0 && in.Account == "":
		add("account", "is required to send to roles")
	}
	if len(in.To) > RecipientsPerRequestMax {
		add("to", "must have at most "+strconv.Itoa(RecipientsPerRequestMax)+" recipients")
	}
	seen := map[string]bool{}
	for i, r := range in.To {
		field := "to[" + strconv.Itoa(i) + "]"
		email := strings.ToLower(strings.TrimSpace(r.Email))
		in.To[i].Email, in.To[i].Name = email, strings.TrimSpace(r.Name)
		if a, err := mail.ParseAddress(email); err != nil || a.Address != email || len(email) > billow.EmailMaxBytes {
			add(field+".email", "must be an email address such as ada@example.com")
		} else if seen[email] {
			add(field+".email", "is given twice")
		}
		seen[email] = true
		if len(in.To[i].Name) > billow.NameMaxBytes || strings.ContainsFunc(in.To[i].Name, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
			add(field+".name", "must be one line of at most "+strconv.Itoa(billow.NameMaxBytes)+" bytes")
		}
	}
	for i, r := range in.Roles {
		if !r.Valid() {
			add("roles["+strconv.Itoa(i)+"]", "must be owner, admin, billing or developer")
		}
	}
	if len(in.Data) > DataFieldsMax {
		add("data", "has too many fields")
	}
	if len(errs) == 0 {
		return nil
	}
	return &billow.Error{Kind: billow.KindInvalid, Code: billow.CodeValidationFailed, Message: "the request has invalid fields", Fields: errs}
}

// Send queues a product email for each recipient and returns the messages, in the order
// of the recipients. idempotencyKey (the request's Idempotency-Key, with caller naming
// who sent it) makes the messages' dedupe keys, so that the same request again, even
// after its Idempotency-Key expired, queues nothing new; without it each call queues new
// messages. in.Account, when given, must be an account id the caller may see (the HTTP
// layer checks tenancy).
//
// Errors: validation_failed (fields named, values never quoted), not_found (the account),
// rate_limited (*RateLimitedError: an address had ProductSendsPerRecipientMax product
// emails within ProductSendWindow; nothing is queued).
func (s *Service) Send(ctx context.Context, in SendInput, caller, idempotencyKey string) ([]*Message, error) {
	if err := in.Validate(); err != nil {
		return nil, err
	}
	t, _ := emails.Lookup(in.Template)
	poweredBy := true
	var to []recipient
	for _, r := range in.To {
		to = append(to, recipient{email: r.Email, name: r.Name})
	}
	if in.Account != "" {
		st, err := s.accountState(ctx, in.Account)
		if err != nil {
			return nil, err
		}
		in.Account, poweredBy = st.account.ID, st.poweredBy
		if len(in.Roles) > 0 {
			to = st.recipients(in.Roles)
			if len(to) == 0 {
				return nil, billow.FieldErrorf(billow.CodeValidationFailed, "roles", "the account has no member with these roles")
			}
		}
	}
	now := s.clock.Now()
	msgs := make([]*Message, 0, len(to))
	for _, r := range to {
		m, err := s.newMessage(t, in.Locale, poweredBy, r, in.Data, now)
		if err != nil {
			return nil, err
		}
		m.Account = in.Account
		m.DedupeKey = "api:" + m.ID
		if idempotencyKey != "" {
			// Hashed: the key is the caller's, and a dedupe key has a bounded length.
			sum := sha256.Sum256([]byte(caller + "\x00" + idempotencyKey + "\x00" + t.Key + "\x00" + r.email))
			m.DedupeKey = "api:" + hex.EncodeToString(sum[:])
		}
		msgs = append(msgs, m)
	}
	stored, err := s.store.InsertMessages(ctx, msgs, RateLimit{Max: ProductSendsPerRecipientMax, Window: ProductSendWindow})
	if err != nil {
		return nil, err
	}
	s.logger.InfoContext(ctx, "product email queued", "template", t.Key, "messages", len(stored), "account", in.Account)
	return stored, nil
}

// PreviewInput renders an email without sending it.
type PreviewInput struct {
	Template string         `json:"template" maxLength:"64"`
	Locale   string         `json:"locale,omitempty" maxLength:"35"`
	Data     map[string]any `json:"data,omitempty" doc:"The template's fields; its sample data when omitted. Secret fields always show the sample's values."`
}

// Preview renders an email with the operator's brand: with the given data, or the
// template's sample when there is none. Secret fields always render the sample's values,
// whatever is given: a preview is an answer kept with its Idempotency-Key, and must hold
// no secret.
//
// Errors: unknown_template, validation_failed.
func (s *Service) Preview(in PreviewInput) (*emails.Rendered, error) {
	t, ok := emails.Lookup(in.Template)
	if !ok {
		return nil, billow.FieldErrorf(emails.CodeUnknownTemplate, "template", "is not an email of the catalogue")
	}
	sample := emails.Sample(t.Key)
	data := in.Data
	if data == nil {
		data = sample
	}
	data = maps.Clone(data)
	for _, f := range t.Fields {
		if f.Secret {
			data[f.Name] = sample[f.Name]
		}
	}
	return s.renderer.Render(emails.Input{Template: t.Key, Locale: in.Locale, Brand: s.brand, PoweredBy: true, Data: data})
}

// Templates returns the catalogue, for GET /v1/notification_templates.
func Templates() []emails.Template { return slices.Clone(emails.Catalogue()) }
