package http

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/billowhq/billow"
	"github.com/billowhq/billow/emails"
	"github.com/billowhq/billow/notify"
	"github.com/billowhq/billow/smtp"
)

// Notifier queues, previews and reads emails. *notify.Service implements it.
type Notifier interface {
	// Send queues a product email per recipient (validation_failed, not_found,
	// rate_limited as *notify.RateLimitedError).
	Send(ctx context.Context, in notify.SendInput, caller, idempotencyKey string) ([]*notify.Message, error)
	// Preview renders an email without sending it; secret fields show sample values
	// (unknown_template, validation_failed).
	Preview(in notify.PreviewInput) (*emails.Rendered, error)
	Message(ctx context.Context, id string) (*notify.Message, []notify.Attempt, error)
	Messages(ctx context.Context, f notify.MessageFilter, page billow.PageInput) (billow.Page[*notify.Message], error)
}

// MailCatcher is what the demo's in-process SMTP sink received. *smtp.Sink implements it.
type MailCatcher interface {
	Received() []smtp.Received
}

// DemoMailMax bounds the messages GET /v1/demo/mail shows, newest first.
const DemoMailMax = 500

// notifier returns the email service, or an internal error when serve did not wire one
// (a fault of the wiring, logged, never a client's).
func (s *Server) notifier() (Notifier, error) {
	if s.notify == nil {
		return nil, errors.New("http: no email service configured")
	}
	return s.notify, nil
}

// NotificationPath names a message in a path.
type NotificationPath struct {
	Notification string `path:"notification" maxLength:"64" doc:"Message id (msg_…)."`
}

// Notification is a message as the API shows it: one email to one recipient, with its
// delivery status. The body of an email that holds a secret is never shown.
type Notification struct {
	ID       string           `json:"id"`
	Account  string           `json:"account,omitempty"`
	Template string           `json:"template"`
	Group    string           `json:"group" enum:"product,pricing,credits"`
	Locale   string           `json:"locale,omitempty"`
	Event    string           `json:"event,omitempty" doc:"The billing event that caused it."`
	Invoice  string           `json:"invoice,omitempty" doc:"The invoice attached as a PDF."`
	To       notify.Recipient `json:"to"`
	Subject  string           `json:"subject"`
	// HTML and Text are shown by GET /v1/notifications/{notification} only, and never
	// for a redacted message.
	HTML     string `json:"html,omitempty"`
	Text     string `json:"text,omitempty"`
	Redacted bool   `json:"redacted" doc:"The email holds a secret (a one-time code, a reset or invitation link): its body is never shown."`
	Status   string `json:"status" enum:"queued,sending,sent,failed"`
	Attempts int64  `json:"attempts"`
	// NextAttemptAt is when a queued message is tried next.
	NextAttemptAt *time.Time       `json:"next_attempt_at,omitempty"`
	LastError     string           `json:"last_error,omitempty"`
	CreatedAt     time.Time        `json:"created_at"`
	SentAt        *time.Time       `json:"sent_at,omitempty"`
	Deliveries    []DeliveryRecord `json:"deliveries,omitempty" doc:"The delivery log, one row per SMTP attempt."`
}

// DeliveryRecord is one attempt of the delivery log.
type DeliveryRecord struct {
	Attempt    int64     `json:"attempt"`
	At         time.Time `json:"at"`
	Outcome    string    `json:"outcome" enum:"sent,retry,failed"`
	ReplyCode  int       `json:"reply_code,omitempty" doc:"The SMTP reply code; absent when the server was not reached."`
	ReplyText  string    `json:"reply_text,omitempty"`
	DurationMs float64   `json:"duration_ms"`
}

func notificationView(m *notify.Message, withBody bool) Notification {
	n := Notification{ID: m.ID, Account: m.Account, Template: m.Template, Group: m.Group, Locale: m.Locale, Event: m.Event,
		Invoice: m.Invoice, To: notify.Recipient{Email: m.ToEmail, Name: m.ToName}, Subject: m.Subject, Redacted: m.Secret,
		Status: string(m.Status), Attempts: m.Attempts, LastError: m.LastError, CreatedAt: m.CreatedAt, SentAt: m.SentAt}
	if withBody && !m.Secret {
		n.HTML, n.Text = m.HTML, m.Text
	}
	if m.Status == notify.StatusQueued {
		next := m.NextAttemptAt
		n.NextAttemptAt = &next
	}
	return n
}

// NotificationTemplate is an email of the catalogue.
type NotificationTemplate struct {
	Key              string              `json:"key"`
	Title            string              `json:"title"`
	Group            string              `json:"group" enum:"product,pricing,credits"`
	Description      string              `json:"description"`
	Triggers         []string            `json:"triggers" doc:"The billing event types that send it; empty for product emails, sent by POST /v1/notifications."`
	Recipients       []billow.Role       `json:"recipients" doc:"The roles of the account's members it goes to; empty for product emails."`
	Fields           []NotificationField `json:"fields"`
	AttachInvoicePDF bool                `json:"attach_invoice_pdf"`
	Sample           map[string]any      `json:"sample" doc:"Realistic data, what a preview without data shows."`
}

// NotificationField is one datum a template reads.
type NotificationField struct {
	Name     string `json:"name"`
	Type     string `json:"type" enum:"text,url,flag,list"`
	Required bool   `json:"required"`
	Secret   bool   `json:"secret" doc:"In the email and nowhere else: never logged, never shown by the API."`
	Doc      string `json:"doc,omitempty"`
}

// rateLimited answers a send over a rate limit: 429 with Retry-After.
func rateLimited(ctx context.Context, rl *notify.RateLimitedError) error {
	p := newProblem(http.StatusTooManyRequests, notify.CodeRateLimited, rl.Error())
	var e *billow.Error
	if errors.As(rl, &e) {
		p.Detail = e.Message
	}
	p.RequestID = requestIDFrom(ctx)
	return huma.ErrorWithHeaders(p, http.Header{"Retry-After": {strconv.FormatInt(int64(rl.RetryAfter/time.Second), 10)}})
}

func (s *Server) registerNotifications() {
	const tag = "Notifications"

	type sendIn struct {
		IdempotencyKey string `header:"Idempotency-Key" hidden:"true"`
		Body           notify.SendInput
	}
	type sendOut struct {
		Body struct {
			Data []Notification `json:"data"`
		}
	}
	op := withStatus(http.StatusAccepted, operation("sendNotification", http.MethodPost, "/v1/notifications", "Send a product email", tag,
		"Queues a product email of the catalogue (sign-up OTP, password reset, invitations, …) for each recipient: the "+
			"addresses in to, or the members of the account having one of roles. The platform owns identity; Billow renders "+
			"the email in the operator's brand and delivers it, retrying for up to 3 days. Answers 202 with one message per "+
			"recipient. Validation errors name fields, never values. At most 10 product emails per address per 10 minutes: "+
			"more is 429 rate_limited with Retry-After, and nothing is queued. With an Idempotency-Key, the same request "+
			"queues nothing new, even after the key's 24 hours. An account key sends for its own account only."))
	op.Errors = append(op.Errors, http.StatusUnauthorized, http.StatusNotFound, http.StatusConflict, http.StatusUnprocessableEntity, http.StatusTooManyRequests)
	huma.Register(s.api, op, func(ctx context.Context, in *sendIn) (*sendOut, error) {
		out, err := s.sendNotification(ctx, in.Body, in.IdempotencyKey)
		var rl *notify.RateLimitedError
		switch {
		case errors.As(err, &rl):
			return nil, rateLimited(ctx, rl)
		case err != nil:
			return nil, problemFor(ctx, s.logger, err)
		}
		res := &sendOut{}
		for _, m := range out {
			res.Body.Data = append(res.Body.Data, notificationView(m, false))
		}
		return res, nil
	})

	type listIn struct {
		PageParams
		Account   string `query:"account" maxLength:"255" doc:"Only this account's messages (id or external id)."`
		Status    string `query:"status" enum:"queued,sending,sent,failed" doc:"Only messages in this status."`
		Recipient string `query:"recipient" maxLength:"254" doc:"Only messages to this address."`
	}
	type listOut struct {
		Body billow.Page[Notification]
	}
	register(s, operation("listNotifications", http.MethodGet, "/v1/notifications", "List emails", tag,
		"Lists messages newest first, without their bodies: product emails and the billing emails Billow sent on its "+
			"events. An account key sees its own account's only."),
		func(ctx context.Context, in *listIn) (*listOut, error) {
			n, err := s.notifier()
			if err != nil {
				return nil, err
			}
			f := notify.MessageFilter{Status: notify.Status(in.Status), ToEmail: in.Recipient}
			p := principal(ctx)
			switch {
			case in.Account != "":
				a, err := s.account(ctx, in.Account)
				if err != nil {
					return nil, err
				}
				f.Account = a.ID
			case !p.IsOperator():
				f.Account = p.AccountID
			}
			page, err := n.Messages(ctx, f, in.input())
			if err != nil {
				return nil, err
			}
			out := &listOut{Body: billow.Page[Notification]{Data: []Notification{}, HasMore: page.HasMore}}
			for _, m := range page.Data {
				out.Body.Data = append(out.Body.Data, notificationView(m, false))
			}
			return out, nil
		})

	type getIn struct{ NotificationPath }
	type getOut struct{ Body Notification }
	register(s, operation("getNotification", http.MethodGet, "/v1/notifications/{notification}", "Get an email", tag,
		"Returns a message with its status and delivery log (one row per SMTP attempt: outcome, reply code and text, "+
			"duration), and its body unless it holds a secret: then only the subject, and redacted true."),
		func(ctx context.Context, in *getIn) (*getOut, error) {
			n, err := s.notifier()
			if err != nil {
				return nil, err
			}
			m, attempts, err := n.Message(ctx, in.Notification)
			if err != nil {
				return nil, err
			}
			if p := principal(ctx); !p.IsOperator() && m.Account != p.AccountID {
				return nil, billow.NotFound("message", in.Notification)
			}
			view := notificationView(m, true)
			for _, a := range attempts {
				view.Deliveries = append(view.Deliveries, DeliveryRecord{Attempt: a.Number, At: a.At, Outcome: string(a.Outcome),
					ReplyCode: a.ReplyCode, ReplyText: a.ReplyText, DurationMs: float64(a.Duration.Microseconds()) / 1000})
			}
			return &getOut{Body: view}, nil
		})

	type previewIn struct{ Body notify.PreviewInput }
	type previewOut struct {
		Body struct {
			Subject string `json:"subject"`
			HTML    string `json:"html"`
			Text    string `json:"text"`
		}
	}
	register(s, withStatus(http.StatusOK, operation("previewNotification", http.MethodPost, "/v1/notifications/preview", "Preview an email", tag,
		"Renders an email of the catalogue in the operator's brand without sending it: with data, or the template's "+
			"sample when data is omitted. Secret fields always show the sample's values.")),
		func(ctx context.Context, in *previewIn) (*previewOut, error) {
			n, err := s.notifier()
			if err != nil {
				return nil, err
			}
			r, err := n.Preview(in.Body)
			if err != nil {
				return nil, err
			}
			out := &previewOut{}
			out.Body.Subject, out.Body.HTML, out.Body.Text = r.Subject, r.HTML, r.Text
			return out, nil
		})

	type templatesOut struct {
		Body struct {
			Data []NotificationTemplate `json:"data"`
		}
	}
	register(s, operation("listNotificationTemplates", http.MethodGet, "/v1/notification_templates", "List email templates", tag,
		"The email catalogue: each email's key, group, the billing events that send it, the roles it goes to, its fields "+
			"(which are required, which secret) and sample data."),
		func(ctx context.Context, _ *struct{}) (*templatesOut, error) {
			out := &templatesOut{}
			for _, t := range notify.Templates() {
				v := NotificationTemplate{Key: t.Key, Title: t.Title, Group: string(t.Group), Description: t.Description,
					Triggers: append([]string{}, t.Triggers...), Recipients: append([]billow.Role{}, t.Recipients...),
					AttachInvoicePDF: t.AttachInvoicePDF, Sample: emails.Sample(t.Key), Fields: []NotificationField{}}
				for _, f := range t.Fields {
					v.Fields = append(v.Fields, NotificationField{Name: f.Name, Type: string(f.Type), Required: f.Required, Secret: f.Secret, Doc: f.Doc})
				}
				out.Body.Data = append(out.Body.Data, v)
			}
			return out, nil
		})

	type mailIn struct {
		Limit int `query:"limit" minimum:"1" maximum:"500" default:"50" doc:"How many of the newest messages."`
	}
	type mailOut struct {
		Body struct {
			Data []smtp.Received `json:"data"`
		}
	}
	register(s, operation("listDemoMail", http.MethodGet, "/v1/demo/mail", "Demo mail catcher", tag,
		"What the demo's in-process SMTP server received, newest first (operator only; serve --demo without "+
			"BILLOW_SMTP_URL): every email Billow sent, as its recipient would read it, secrets included, for no mail "+
			"leaves the machine. 404 when no mail catcher runs."),
		func(ctx context.Context, in *mailIn) (*mailOut, error) {
			if err := requireOperator(ctx); err != nil {
				return nil, err
			}
			if s.mailCatcher == nil {
				return nil, billow.Errorf(billow.KindNotFound, billow.CodeNotFound, "no mail catcher runs: it is started by serve --demo without BILLOW_SMTP_URL")
			}
			got := s.mailCatcher.Received()
			out := &mailOut{}
			out.Body.Data = []smtp.Received{}
			for i := len(got) - 1; i >= 0 && len(out.Body.Data) < min(in.Limit, DemoMailMax); i-- {
				out.Body.Data = append(out.Body.Data, got[i])
			}
			return out, nil
		})
}

// sendNotification checks who may send for which account, then queues.
func (s *Server) sendNotification(ctx context.Context, in notify.SendInput, idempotencyKey string) ([]*notify.Message, error) {
	n, err := s.notifier()
	if err != nil {
		return nil, err
	}
	p := principal(ctx)
	switch {
	case in.Account != "":
		a, err := s.account(ctx, in.Account)
		if err != nil {
			return nil, err
		}
		in.Account = a.ID
	case !p.IsOperator():
		// An account's key sends for its account: the message is its, and so visible to it.
		in.Account = p.AccountID
	}
	return n.Send(ctx, in, p.KeyID, idempotencyKey)
}
