package notify

import (
	"context"
	"time"

	"github.com/billowhq/billow"
)

// PrefixMessage begins the id of a message.
const PrefixMessage = "msg_"

// Limits of delivery, named with their unit last.
const (
	// RetryFirst is the wait after the first failed attempt; each further failure doubles
	// it, up to RetryMax.
	RetryFirst = 10 * time.Second
	RetryMax   = 10 * time.Minute
	// GiveUpAfter is how long after it was queued a message is tried: a message still
	// unsent then fails for good (an SMTP server down for three days is an incident, and
	// a three-day-old "your code is …" is of no use to anyone).
	GiveUpAfter = 72 * time.Hour
	// LeaseFor is how long a claimed message is a worker's alone: longer than a whole
	// batch may take (DeliveryBatchMax messages, DeliveryConcurrencyMax at a time,
	// SendTimeout each: 12.5 minutes), so a message is claimed again only when its worker
	// died; then it is sent again under the same Message-ID.
	LeaseFor = 15 * time.Minute
	// SendTimeout bounds one SMTP conversation (connect, TLS, auth, one message).
	SendTimeout = 60 * time.Second
	// DeliveryBatchMax bounds the messages one delivery pass claims.
	DeliveryBatchMax = 50
	// DeliveryConcurrencyMax bounds the SMTP conversations one pass holds at once.
	DeliveryConcurrencyMax = 4
	// RecipientsPerEmailMax bounds the members one email is sent to (roles of an account).
	RecipientsPerEmailMax = 100
	// RecipientsPerRequestMax bounds the addresses of one POST /v1/notifications.
	RecipientsPerRequestMax = 50
	// ProductSendsPerRecipientMax product emails may be queued for one address within
	// ProductSendWindow; more is refused (429 rate_limited), so that a platform's bug or an
	// attacker pressing "resend code" cannot flood a mailbox.
	ProductSendsPerRecipientMax = 10
	ProductSendWindow           = 10 * time.Minute
	// DeliveriesPerRecipientMax emails of any kind are sent to one address within
	// DeliveryWindow; billing emails beyond it wait for the window to free (they are
	// delayed, never dropped). Product emails are bounded when they are asked for.
	DeliveriesPerRecipientMax = 30
	DeliveryWindow            = 10 * time.Minute
	// LastErrorMaxBytes bounds the error kept with a message and an attempt's reply text.
	LastErrorMaxBytes = 500
)

// Status is where a message stands: queued → sending → sent, or failed when delivery
// gave up. A failed attempt that will be retried puts it back to queued.
type Status string

const (
	StatusQueued  Status = "queued"
	StatusSending Status = "sending"
	StatusSent    Status = "sent"
	StatusFailed  Status = "failed"
)

// Valid reports whether s is a known status.
func (s Status) Valid() bool {
	return s == StatusQueued || s == StatusSending || s == StatusSent || s == StatusFailed
}

// Message is one email to one recipient: the outbox row. Its body is rendered when it is
// queued, so what is sent is what was asked for even if templates change meanwhile.
type Message struct {
	ID string
	// DedupeKey makes queueing idempotent: "<event id>:<template>:<email>" for an email
	// caused by a billing event ("<invoice id>:…" for the invoice emails, sent once per
	// invoice), derived from the Idempotency-Key or the message id for one asked for by
	// API. A second message with the same key is not made.
	DedupeKey string
	Account   string // "" for a product email sent without an account
	Template  string
	Group     string // the catalogue group: product, pricing or credits
	Locale    string
	Event     string // the billing event that caused it; "" for product emails
	Invoice   string // attached as a PDF when sent; "" for none
	ToEmail   string
	ToName    string
	Subject   string
	HTML      string
	Text      string
	// Secret says the body holds a secret field (a code, a reset or invitation link): the
	// API never shows the body, and it is wiped once the message is sent or given up.
	Secret        bool
	Status        Status
	Attempts      int64
	NextAttemptAt time.Time // when a queued message is due; a sending one's lease end
	LastError     string
	CreatedAt     time.Time
	UpdatedAt     time.Time
	SentAt        *time.Time
	// LeaseToken is set on a claimed message: only its holder may record the outcome.
	LeaseToken string
}

// Outcome is how one delivery attempt ended.
type Outcome string

const (
	OutcomeSent   Outcome = "sent"
	OutcomeRetry  Outcome = "retry"  // failed; tried again later
	OutcomeFailed Outcome = "failed" // failed; given up (permanent error or too old)
)

// Attempt is one row of a message's delivery log.
type Attempt struct {
	Number    int64         `json:"attempt"`
	At        time.Time     `json:"at"`
	Outcome   Outcome       `json:"outcome"`
	ReplyCode int           `json:"reply_code,omitempty" doc:"The SMTP reply code, 0 when the server was not reached."`
	ReplyText string        `json:"reply_text,omitempty"`
	Duration  time.Duration `json:"-"`
}

// AttemptRecord is what a worker writes when an attempt ends: the attempt, and what
// becomes of the message.
type AttemptRecord struct {
	Message    string
	LeaseToken string
	Attempt    Attempt
	// Status is sent, failed or queued (to be retried at NextAttemptAt).
	Status        Status
	NextAttemptAt time.Time
	LastError     string
	// WipeBody empties the HTML and text of the message (a secret-bearing one that will
	// not be sent again).
	WipeBody bool
}

// MessageFilter narrows a list of messages; empty fields do not filter.
type MessageFilter struct {
	Account string
	Status  Status
	ToEmail string
}

// RateLimit bounds the product messages queued for one address within Window.
type RateLimit struct {
	Max    int
	Window time.Duration
}

// Mail is what a Sender sends: one rendered message with its attachments.
type Mail struct {
	// MessageID is the Message-ID header without angle brackets, stable per message so
	// that a resend after a crash is recognisable as the same email.
	MessageID   string
	From        string // an address, optionally with a name: "Acme Billing <billing@acme.test>"
	To          string
	ToName      string
	Subject     string
	HTML        string
	Text        string
	Date        time.Time
	Attachments []Attachment
}

// Attachment is a file sent with a mail.
type Attachment struct {
	Name        string
	ContentType string
	Data        []byte
}

// Reply is an SMTP server's answer to a send.
type Reply struct {
	Code int
	Text string
}

// Sender sends one mail. *smtp.Sender implements it. An error that has a method
// Permanent() bool answering true (an SMTP 5xx reply) is not retried; one with
// ReplyCode() int says what the server answered.
type Sender interface {
	Send(ctx context.Context, m *Mail) (Reply, error)
}

// CodeRateLimited refuses a product email to an address that had ProductSendsPerRecipientMax
// of them within ProductSendWindow.
const CodeRateLimited = "rate_limited"

// RateLimitedError refuses a send over a rate limit; RetryAfter says when one more would
// be accepted. It unwraps to a *billow.Error of code rate_limited.
type RateLimitedError struct {
	RetryAfter time.Duration
	err        *billow.Error
}

// NewRateLimitedError returns the error of a send refused by limit for retryAfter. It
// names no address: the caller knows which it asked for.
func NewRateLimitedError(limit RateLimit, retryAfter time.Duration) *RateLimitedError {
	retryAfter = max(retryAfter.Round(time.Second), time.Second)
	return &RateLimitedError{RetryAfter: retryAfter, err: billow.Errorf(billow.KindConflict, CodeRateLimited,
		"too many emails to one recipient: at most %d per %s; retry in %s", limit.Max, limit.Window, retryAfter)}
}

func (e *RateLimitedError) Error() string { return e.err.Error() }
func (e *RateLimitedError) Unwrap() error { return e.err }
