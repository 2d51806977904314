// Package smtp sends Billow's emails over SMTP with go-mail (github.com/wneessen/go-mail)
// and runs the in-process mail sink the demo delivers to (github.com/emersion/go-smtp). It
// is the one package that knows either library: notify hands it a notify.Mail and reads
// back the server's reply.
//
// Where mail goes is one URL: smtp://user:pass@host:port (STARTTLS whenever the server
// offers it; ?tls=required refuses a server that does not, ?tls=none never starts it) or
// smtps://user:pass@host:port (TLS from the first byte). The password is never logged:
// Where names the server without it.
package smtp

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/textproto"
	"net/url"
	"strconv"
	"strings"
	"time"

	mail "github.com/wneessen/go-mail"

	"github.com/billowhq/billow"
	"github.com/billowhq/billow/notify"
)

// Defaults and limits, named with their unit last.
const (
	// PortSubmission is the port of smtp:// URLs that name none (RFC 6409 submission).
	PortSubmission = 587
	// PortSubmissions is the port of smtps:// URLs that name none (RFC 8314).
	PortSubmissions = 465
	// TimeoutDefault bounds connecting and each command of one conversation.
	TimeoutDefault = 30 * time.Second
	// replyTextMaxBytes bounds the server text kept from a reply.
	replyTextMaxBytes = notify.LastErrorMaxBytes
)

// Config says where mail goes.
type Config struct {
	// URL is smtp://[user[:pass]@]host[:port][?tls=required|none|opportunistic] or
	// smtps://[user[:pass]@]host[:port].
	URL string
	// Timeout bounds connecting and each command; TimeoutDefault when zero.
	Timeout time.Duration
	// TLSConfig overrides the TLS settings (tests trust their own certificate with it);
	// nil verifies the server's certificate against the system roots.
	TLSConfig *tls.Config
}

// Sender sends mail to one SMTP server. It opens a connection per message: Billow sends
// little mail, and a fresh conversation leaves no half-broken connection behind after a
// server restart.
type Sender struct {
	host     string
	port     int
	user     string
	password string
	implicit bool // smtps://
	policy   mail.TLSPolicy
	timeout  time.Duration
	tls      *tls.Config
	where    string
}

// New checks cfg and returns a Sender. It does not connect.
func New(cfg Config) (*Sender, error) {
	u, err := url.Parse(cfg.URL)
	if err != nil {
		// url's error quotes the whole URL, password included.
		return nil, billow.FieldErrorf(billow.CodeValidationFailed, "smtp_url", "the SMTP URL is not a URL")
	}
	s := &Sender{host: u.Hostname(), timeout: cfg.Timeout, tls: cfg.TLSConfig, policy: mail.TLSOpportunistic}
	switch u.Scheme {
	case "smtp":
		s.port = PortSubmission
	case "smtps":
		s.port, s.implicit = PortSubmissions, true
	default:
		return nil, billow.FieldErrorf(billow.CodeValidationFailed, "smtp_url", "the SMTP URL must start with smtp:// or smtps://")
	}
	if s.host == "" {
		return nil, billow.FieldErrorf(billow.CodeValidationFailed, "smtp_url", "the SMTP URL names no host")
	}
	if p := u.Port(); p != "" {
		n, err := strconv.Atoi(p)
		if err != nil || n < 1 || n > 65535 {
			return nil, billow.FieldErrorf(billow.CodeValidationFailed, "smtp_url", "the SMTP URL's port must be 1 to 65535")
		}
		s.port = n
	}
	if u.User != nil {
		s.user = u.User.Username()
		s.password, _ = u.User.Password()
	}
	for key, values := range u.Query() {
		v := values[len(values)-1]
		switch {
		case key == "tls" && s.implicit:
			return nil, billow.FieldErrorf(billow.CodeValidationFailed, "smtp_url", "smtps:// is always TLS; tls= is for smtp://")
		case key == "tls" && v == "required":
			s.policy = mail.TLSMandatory
		case key == "tls" && v == "opportunistic":
			s.policy = mail.TLSOpportunistic
		case key == "tls" && v == "none":
			s.policy = mail.NoTLS
		case key == "tls":
			return nil, billow.FieldErrorf(billow.CodeValidationFailed, "smtp_url", "tls must be required, opportunistic or none")
		default:
			return nil, billow.FieldErrorf(billow.CodeValidationFailed, "smtp_url", "unknown SMTP URL parameter %q", key)
		}
	}
	if s.timeout <= 0 {
		s.timeout = TimeoutDefault
	}
	if s.tls == nil {
		s.tls = &tls.Config{ServerName: s.host, MinVersion: tls.VersionTLS12}
	}
	s.where = u.Scheme + "://" + net.JoinHostPort(s.host, strconv.Itoa(s.port))
	return s, nil
}

// Where names the server for logs: scheme, host and port, never the credentials.
func (s *Sender) Where() string { return s.where }

// Send sends one mail and returns the server's reply to it. A 5xx reply is an *Error
// that is Permanent; anything else that fails (no connection, a timeout, a 4xx reply)
// may succeed later.
func (s *Sender) Send(ctx context.Context, m *notify.Mail) (notify.Reply, error) {
	msg, err := s.message(m)
	if err != nil {
		return notify.Reply{}, &Error{Text: truncate(err.Error()), permanent: true}
	}
	opts := []mail.Option{mail.WithPort(s.port), mail.WithTimeout(s.timeout), mail.WithTLSConfig(s.tls)}
	if s.implicit {
		opts = append(opts, mail.WithSSL())
	} else {
		opts = append(opts, mail.WithTLSPolicy(s.policy))
	}
	if s.user != "" {
		opts = append(opts, mail.WithSMTPAuth(mail.SMTPAuthAutoDiscover), mail.WithUsername(s.user), mail.WithPassword(s.password))
	}
	client, err := mail.NewClient(s.host, opts...)
	if err != nil {
		return notify.Reply{}, &Error{Text: truncate(s.scrub(err.Error())), permanent: true}
	}
	if err := client.DialAndSendWithContext(ctx, msg); err != nil {
		return notify.Reply{}, s.classify(err)
	}
	return notify.Reply{Code: 250, Text: truncate(msg.ServerResponse())}, nil
}

// message builds the MIME message: text and HTML as alternatives, then attachments.
func (s *Sender) message(m *notify.Mail) (*mail.Msg, error) {
	msg := mail.NewMsg(mail.WithNoDefaultUserAgent())
	if err := msg.From(m.From); err != nil {
		return nil, fmt.Errorf("from address: %w", err)
	}
	var err error
	if m.ToName != "" {
		err = msg.AddToFormat(m.ToName, m.To)
	} else {
		err = msg.To(m.To)
	}
	if err != nil {
		return nil, errors.New("the recipient is not a valid address")
	}
	msg.Subject(m.Subject)
	msg.SetMessageIDWithValue(m.MessageID)
	msg.SetDateWithValue(m.Date)
	msg.SetGenHeader(mail.HeaderXAutoResponseSuppress, "All")
	msg.SetBodyString(mail.TypeTextPlain, m.Text)
	msg.AddAlternativeString(mail.TypeTextHTML, m.HTML)
	for _, a := range m.Attachments {
		if err := msg.AttachReader(a.Name, bytes.NewReader(a.Data), mail.WithFileContentType(mail.ContentType(a.ContentType))); err != nil {
			return nil, fmt.Errorf("attach %s: %w", a.Name, err)
		}
	}
	return msg, nil
}

// classify turns go-mail's error into an *Error with the server's reply code, when it
// answered, and whether trying again may help.
func (s *Sender) classify(err error) *Error {
	out := &Error{Text: truncate(s.scrub(err.Error()))}
	var sendErr *mail.SendError
	var protoErr *textproto.Error
	switch {
	case errors.As(err, &sendErr):
		out.Code = sendErr.ErrorCode()
	case errors.As(err, &protoErr):
		out.Code = protoErr.Code
	}
	out.permanent = out.Code >= 500 && out.Code < 600
	return out
}

// scrub removes the password from a text, should a library ever quote it.
func (s *Sender) scrub(text string) string {
	if s.password == "" {
		return text
	}
	return strings.ReplaceAll(text, s.password, "***")
}

func truncate(s string) string {
	if len(s) <= replyTextMaxBytes {
		return s
	}
	cut := replyTextMaxBytes
	for cut > 0 && (s[cut]&0xc0) == 0x80 { // not inside a UTF-8 sequence
		cut--
	}
	return s[:cut]
}

// Error is a failed send: the server's reply code (0 when it was not reached) and text.
type Error struct {
	Code      int
	Text      string
	permanent bool
}

func (e *Error) Error() string {
	if e.Code == 0 {
		return "smtp: " + e.Text
	}
	return fmt.Sprintf("smtp: %d: %s", e.Code, e.Text)
}

// Permanent reports whether sending again cannot help: the server refused with a 5xx
// reply, or the message itself is malformed.
func (e *Error) Permanent() bool { return e.permanent }

// ReplyCode is the server's reply code, 0 when it did not answer.
func (e *Error) ReplyCode() int { return e.Code }
