package notify

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/mail"
	"net/url"
	"strings"
	"time"

	"github.com/billowhq/billow"
	"github.com/billowhq/billow/catalog"
	"github.com/billowhq/billow/emails"
	"github.com/billowhq/billow/feed"
	"github.com/billowhq/billow/pdf"
)

// FeedConsumer is the name of the emails' position in the feed of billing events.
const FeedConsumer = "emails"

// Store is what notify reads and writes (sqlstore.DB).
type Store interface {
	feed.Store

	// InsertMessages queues messages once per dedupe key, returning the stored ones; with
	// a limit, refuses (*RateLimitedError) product messages over it.
	InsertMessages(ctx context.Context, msgs []*Message, limit RateLimit) ([]*Message, error)
	// ClaimMessages leases up to limit due messages under token until now+leaseFor.
	ClaimMessages(ctx context.Context, now time.Time, leaseFor time.Duration, token string, limit int) ([]*Message, error)
	// RecordAttempt writes an attempt's outcome if the lease is still held (else
	// concurrent_update).
	RecordAttempt(ctx context.Context, r AttemptRecord) error
	// DeferMessage gives a claimed message back, due at until, without an attempt.
	DeferMessage(ctx context.Context, id, token string, until, now time.Time) error
	// RecentDeliveries counts the messages sent to an address after since.
	RecentDeliveries(ctx context.Context, toEmail string, since time.Time) (int, error)
	Message(ctx context.Context, id string) (*Message, []Attempt, error)
	ListMessages(ctx context.Context, f MessageFilter, page billow.PageInput) (billow.Page[*Message], error)

	// ConsumerStarted reports whether the consumer has a position; BillingEventsHead is
	// the seq of the last billing event.
	ConsumerStarted(ctx context.Context, consumer string) (bool, error)
	BillingEventsHead(ctx context.Context) (int64, error)

	// What the emails say.
	Account(ctx context.Context, ref string) (*billow.Account, error)
	AccountCatalog(ctx context.Context, a *billow.Account) (*catalog.Catalog, error)
	ListMembers(ctx context.Context, accountID string, role billow.Role, page billow.PageInput) (billow.Page[*billow.Member], error)
	Subscription(ctx context.Context, id string) (*billow.Subscription, error)
	LiveSubscription(ctx context.Context, accountID string) (*billow.Subscription, error)
	Invoice(ctx context.Context, id string) (*billow.Invoice, error)
	Order(ctx context.Context, id string) (*billow.Order, []byte, error)
	Payments(ctx context.Context, invoiceID string) ([]*billow.Payment, error)
}

// Renderer renders one email of the catalogue (*emails.Renderer).
type Renderer interface {
	Render(in emails.Input) (*emails.Rendered, error)
}

// Wire is the operator's bank account, stated in wire transfer instructions.
type Wire struct {
	Beneficiary string
	IBAN        string
	BIC         string
	Bank        string
	// Clearance is how long a transfer takes to clear, as the email states it.
	Clearance string
}

// WireClearanceDefault is what the instructions state when the operator says nothing:
// seed 000's "4-8 business days".
const WireClearanceDefault = "4–8 business days"

// Config wires a Service.
type Config struct {
	Store    Store
	Renderer Renderer
	// Sender delivers; nil leaves every message queued (Deliver sends nothing).
	Sender Sender
	Clock  billow.Clock
	Logger *slog.Logger
	// Brand is the operator's look in emails; Brand.Name is required.
	Brand emails.Brand
	// From is the From header: "Acme Billing <billing@acme.test>" or an address. Empty:
	// the brand's email, else billow@localhost.
	From string
	// PublicURL is where the links of emails point (BILLOW_PUBLIC_URL): the portal's
	// pages are under it.
	PublicURL string
	// Wire is stated in wire transfer instructions.
	Wire Wire
	// InvoiceBranding renders the invoice PDFs attached to invoice emails.
	InvoiceBranding pdf.Branding
}

// Service makes, queues and delivers messages.
type Service struct {
	store     Store
	renderer  Renderer
	sender    Sender
	clock     billow.Clock
	logger    *slog.Logger
	brand     emails.Brand
	from      string
	publicURL string
	wire      Wire
	branding  pdf.Branding
}

// New checks cfg and returns a Service.
func New(cfg Config) (*Service, error) {
	if cfg.Store == nil || cfg.Renderer == nil {
		return nil, errors.New("notify: a store and a renderer are required")
	}
	if cfg.Clock == nil {
		cfg.Clock = billow.SystemClock{}
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if strings.TrimSpace(cfg.Brand.Name) == "" {
		return nil, errors.New("notify: the brand needs a name")
	}
	from := cfg.From
	if from == "" {
		from = cfg.Brand.Email
	}
	if from == "" {
		from = "billow@localhost"
	}
	if _, err := mail.ParseAddress(from); err != nil {
		return nil, fmt.Errorf("notify: the from address is not an email address: %w", err)
	}
	public := strings.TrimRight(cfg.PublicURL, "/")
	if u, err := url.Parse(public); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, errors.New("notify: the public URL must be an absolute http(s) URL")
	}
	// A brand the templates refuse would skip every email: refuse it now.
	if _, err := cfg.Renderer.Render(emails.Input{Template: emails.BotPublish, Brand: cfg.Brand, PoweredBy: true, Data: emails.Sample(emails.BotPublish)}); err != nil {
		return nil, fmt.Errorf("notify: the brand cannot be rendered: %w", err)
	}
	if cfg.Wire.Clearance == "" {
		cfg.Wire.Clearance = WireClearanceDefault
	}
	return &Service{store: cfg.Store, renderer: cfg.Renderer, sender: cfg.Sender, clock: cfg.Clock, logger: cfg.Logger,
		brand: cfg.Brand, from: from, publicURL: public, wire: cfg.Wire, branding: cfg.InvoiceBranding}, nil
}

// Follower returns the feed follower that turns billing events into messages; its Run
// fits a periodic job.
func (s *Service) Follower() *feed.Follower {
	return &feed.Follower{Store: s.store, Name: FeedConsumer, Handle: s.HandleEvents}
}

// StartFeed gives the emails a position in the feed at its head, the first time only:
// the billing events from then on cause emails; those before (an installation that had
// billing before it had emails, the demo's generated history) do not, for their news is
// old. Two processes starting at once agree: the position is set once.
func (s *Service) StartFeed(ctx context.Context) error {
	started, err := s.store.ConsumerStarted(ctx, FeedConsumer)
	if err != nil || started {
		return err
	}
	head, err := s.store.BillingEventsHead(ctx)
	if err != nil {
		return err
	}
	err = s.store.AdvanceConsumer(ctx, FeedConsumer, 0, head)
	if billow.ErrorCode(err) == billow.CodeConcurrentUpdate {
		return nil // another process started it
	}
	if err == nil && head > 0 {
		s.logger.InfoContext(ctx, "emails start after the billing events already stored", "skipped_through_seq", head)
	}
	return err
}

// Message returns a message and its delivery log.
//
// Errors: not_found.
func (s *Service) Message(ctx context.Context, id string) (*Message, []Attempt, error) {
	if !billow.IsID(id, PrefixMessage) {
		return nil, nil, billow.NotFound("message", id)
	}
	return s.store.Message(ctx, id)
}

// Messages lists messages newest first, without their bodies.
func (s *Service) Messages(ctx context.Context, f MessageFilter, page billow.PageInput) (billow.Page[*Message], error) {
	f.ToEmail = strings.ToLower(strings.TrimSpace(f.ToEmail))
	if f.Status != "" && !f.Status.Valid() {
		return billow.Page[*Message]{}, billow.FieldErrorf(billow.CodeValidationFailed, "status", "must be queued, sending, sent or failed")
	}
	return s.store.ListMessages(ctx, f, page)
}

// recipient is one address an email goes to.
type recipient struct {
	email, name string
}

// newMessage renders one email for one recipient and returns the message to queue.
func (s *Service) newMessage(t emails.Template, locale string, poweredBy bool, to recipient, data map[string]any, now time.Time) (*Message, error) {
	r, err := s.renderer.Render(emails.Input{Template: t.Key, Locale: locale, Brand: s.brand, PoweredBy: poweredBy, RecipientName: to.name, Data: data})
	if err != nil {
		return nil, err
	}
	return &Message{ID: billow.NewID(PrefixMessage, now), Template: t.Key, Group: string(t.Group), Locale: locale,
		ToEmail: to.email, ToName: to.name, Subject: r.Subject, HTML: r.HTML, Text: r.Text, Secret: hasSecret(t),
		Status: StatusQueued, NextAttemptAt: now, CreatedAt: now, UpdatedAt: now}, nil
}

func hasSecret(t emails.Template) bool {
	for _, f := range t.Fields {
		if f.Secret {
			return true
		}
	}
	return false
}

// poweredBy reports whether the account's emails say "Powered by": not when its plan or
// an add-on of its live subscription removes the platform's branding (the whitelabel
// add-on, the remove_powered_by or whitelabel entitlements).
func (s *Service) poweredBy(ctx context.Context, a *billow.Account, cat *catalog.Catalog) (bool, error) {
	removes := func(flag func(string) bool) bool { return flag("remove_powered_by") || flag("whitelabel") }
	if p, ok := cat.Plan(a.Plan); ok && removes(p.Flag) {
		return false, nil
	}
	sub, err := s.store.LiveSubscription(ctx, a.ID)
	if billow.ErrorKindOf(err) == billow.KindNotFound {
		return true, nil
	}
	if err != nil {
		return false, err
	}
	for _, ao := range sub.AddOns {
		if ao.AddOn == "whitelabel" {
			return false, nil
		}
		if addOn, ok := cat.AddOn(ao.AddOn); ok && removes(addOn.Flag) {
			return false, nil
		}
	}
	return true, nil
}

// link is an absolute URL of the portal.
func (s *Service) link(path string) string { return s.publicURL + path }

func newLeaseToken() string {
	var b [12]byte
	rand.Read(b[:])
	return "lease_" + hex.EncodeToString(b[:])
}
