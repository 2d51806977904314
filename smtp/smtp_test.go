package smtp_test

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"io"
	"math/big"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	gosmtp "github.com/emersion/go-smtp"

	"github.com/billowhq/billow"
	"github.com/billowhq/billow/notify"
	"github.com/billowhq/billow/smtp"
)

var epoch = time.Date(2026, 1, 15, 9, 30, 0, 0, time.UTC)

type fixedClock struct{}

func (fixedClock) Now() time.Time { return epoch }

func testMail() *notify.Mail {
	return &notify.Mail{MessageID: "msg_01test@billow", From: "Acme Billing <billing@acme.test>", To: "ada@example.test", ToName: "Ada Lovelace",
		Subject: "Your invoice — café №1", HTML: "<p>Hello <b>Ada</b>, 100% paid.</p>", Text: "Hello Ada,\n100% paid.\n", Date: epoch,
		Attachments: []notify.Attachment{{Name: "invoice-INV-000001.pdf", ContentType: "application/pdf", Data: []byte("%PDF-1.4 fake\x00\x01\x02")}}}
}

func TestURLs(t *testing.T) {
	for _, c := range []struct{ url, where, err string }{
		{url: "smtp://mail.example.com", where: "smtp://mail.example.com:587"},
		{url: "smtp://user:pass@mail.example.com:2525?tls=required", where: "smtp://mail.example.com:2525"},
		{url: "smtp://127.0.0.1:25?tls=none", where: "smtp://127.0.0.1:25"},
		{url: "smtps://user:pass@mail.example.com", where: "smtps://mail.example.com:465"},
		{url: "smtps://mail.example.com?tls=none", err: "always TLS"},
		{url: "http://mail.example.com", err: "smtp:// or smtps://"},
		{url: "smtp://user:s3cret@:25", err: "names no host"},
		{url: "smtp://user:s3cret@mail.example.com:99999", err: "port"},
		{url: "smtp://mail.example.com?tls=maybe", err: "tls must be"},
		{url: "smtp://mail.example.com?insecure=1", err: "unknown SMTP URL parameter"},
		{url: "smtp://user:s3cret@mail.example.com:%zz", err: "not a URL"},
	} {
		s, err := smtp.New(smtp.Config{URL: c.url})
		switch {
		case c.err != "" && (err == nil || !strings.Contains(err.Error(), c.err)):
			t.Errorf("%s: error %v, want %q", c.url, err, c.err)
		case c.err == "" && err != nil:
			t.Errorf("%s: %v", c.url, err)
		case c.err == "" && s.Where() != c.where:
			t.Errorf("%s: where %s, want %s", c.url, s.Where(), c.where)
		}
		if err != nil && strings.Contains(err.Error(), "s3cret") {
			t.Errorf("%s: the error shows the password: %v", c.url, err)
		}
	}
}

// A mail arrives as sent: the stable Message-ID, the names, an encoded subject, text and
// HTML as alternatives, the attachment byte for byte.
func TestSendArrives(t *testing.T) {
	sink := smtp.NewSink(fixedClock{}, 0)
	if err := sink.Start("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	defer sink.Stop()
	s, err := smtp.New(smtp.Config{URL: sink.URL()})
	if err != nil {
		t.Fatal(err)
	}
	reply, err := s.Send(context.Background(), testMail())
	if err != nil || reply.Code != 250 {
		t.Fatalf("send: %+v, %v", reply, err)
	}
	got := sink.Received()
	if len(got) != 1 {
		t.Fatalf("%d received", len(got))
	}
	r := got[0]
	m := testMail()
	if r.MessageID != m.MessageID || r.Subject != m.Subject || r.From != "billing@acme.test" || len(r.To) != 1 || r.To[0] != m.To ||
		!strings.Contains(r.HeaderFrom, "Acme Billing") || !strings.Contains(r.HeaderTo, "Ada Lovelace") || !r.ReceivedAt.Equal(epoch) {
		t.Fatalf("received %+v", r)
	}
	if !r.Alternative || r.HTML != m.HTML || strings.ReplaceAll(r.Text, "\r\n", "\n") != m.Text {
		t.Fatalf("bodies: alternative %v, html %q, text %q", r.Alternative, r.HTML, r.Text)
	}
	if len(r.Attachments) != 1 || r.Attachments[0].Name != "invoice-INV-000001.pdf" || r.Attachments[0].ContentType != "application/pdf" ||
		!bytes.Equal(r.Attachments[0].Data, m.Attachments[0].Data) {
		t.Fatalf("attachments %+v", r.Attachments)
	}
}

// A 5xx refusal is permanent, a 4xx one and an unreachable server are not.
func TestFailuresAreClassified(t *testing.T) {
	sink := smtp.NewSink(fixedClock{}, 0)
	sink.SetReject(func(rcpt string) error {
		switch {
		case strings.HasPrefix(rcpt, "gone@"):
			return &gosmtp.SMTPError{Code: 550, EnhancedCode: gosmtp.EnhancedCode{5, 1, 1}, Message: "no such mailbox"}
		case strings.HasPrefix(rcpt, "busy@"):
			return &gosmtp.SMTPError{Code: 451, EnhancedCode: gosmtp.EnhancedCode{4, 3, 0}, Message: "try again later"}
		}
		return nil
	})
	if err := sink.Start("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	s, err := smtp.New(smtp.Config{URL: sink.URL(), Timeout: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		to        string
		code      int
		permanent bool
	}{{"gone@example.test", 550, true}, {"busy@example.test", 451, false}} {
		m := testMail()
		m.To = c.to
		_, err := s.Send(context.Background(), m)
		var e *smtp.Error
		if !errors.As(err, &e) || e.Code != c.code || e.Permanent() != c.permanent || e.ReplyCode() != c.code {
			t.Errorf("%s: %v, want code %d permanent %v", c.to, err, c.code, c.permanent)
		}
	}
	sink.Stop()
	_, err = s.Send(context.Background(), testMail())
	var e *smtp.Error
	if !errors.As(err, &e) || e.Code != 0 || e.Permanent() {
		t.Errorf("server down: %v, want a temporary error without a code", err)
	}
}

// tlsServer is an SMTP server with a self-signed certificate for 127.0.0.1 that asks for
// a password: over STARTTLS, or over TLS from the first byte (implicit).
type tlsServer struct {
	addr   string
	client *tls.Config // trusts the certificate
	mu     sync.Mutex  // protects got
	got    []string    // "user from → to"
}

func newTLSServer(t *testing.T, implicit bool) *tlsServer {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "127.0.0.1"},
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	srv := &tlsServer{client: &tls.Config{RootCAs: pool, ServerName: "127.0.0.1", MinVersion: tls.VersionTLS12}}
	server := gosmtp.NewServer(gosmtp.BackendFunc(func(*gosmtp.Conn) (gosmtp.Session, error) { return &authSession{srv: srv}, nil }))
	server.Domain = "localhost"
	server.TLSConfig = &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}}, MinVersion: tls.VersionTLS12}
	server.ErrorLog = discardLogger{}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv.addr = l.Addr().String()
	if implicit {
		l = tls.NewListener(l, server.TLSConfig)
	}
	go server.Serve(l)
	t.Cleanup(func() { server.Close() })
	return srv
}

type discardLogger struct{}

func (discardLogger) Printf(string, ...any) {}
func (discardLogger) Println(...any)        {}

type authSession struct {
	srv  *tlsServer
	user string
	from string
}

func (s *authSession) AuthMechanisms() []string { return []string{sasl.Plain} }

func (s *authSession) Auth(string) (sasl.Server, error) {
	return sasl.NewPlainServer(func(_, user, pass string) error {
		if user != "mailer" || pass != "p@ss word" {
			return errors.New("bad credentials")
		}
		s.user = user
		return nil
	}), nil
}

func (s *authSession) Mail(from string, _ *gosmtp.MailOptions) error {
	if s.user == "" {
		return gosmtp.ErrAuthRequired
	}
	s.from = from
	return nil
}

func (s *authSession) Rcpt(to string, _ *gosmtp.RcptOptions) error {
	s.srv.mu.Lock()
	defer s.srv.mu.Unlock()
	s.srv.got = append(s.srv.got, s.user+" "+s.from+" → "+to)
	return nil
}

func (s *authSession) Data(r io.Reader) error { _, err := io.Copy(io.Discard, r); return err }
func (s *authSession) Reset()                 {}
func (s *authSession) Logout() error          { return nil }

// Mail goes over STARTTLS (required) or implicit TLS, with the URL's user and password.
func TestTLSAndAuth(t *testing.T) {
	for _, c := range []struct {
		name, scheme, query string
		implicit            bool
	}{{"starttls", "smtp", "?tls=required", false}, {"starttls opportunistic", "smtp", "", false}, {"implicit", "smtps", "", true}} {
		t.Run(c.name, func(t *testing.T) {
			srv := newTLSServer(t, c.implicit)
			s, err := smtp.New(smtp.Config{URL: c.scheme + "://mailer:p%40ss%20word@" + srv.addr + c.query, TLSConfig: srv.client, Timeout: 5 * time.Second})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := s.Send(context.Background(), testMail()); err != nil {
				t.Fatal(err)
			}
			srv.mu.Lock()
			defer srv.mu.Unlock()
			if len(srv.got) != 1 || srv.got[0] != "mailer billing@acme.test → ada@example.test" {
				t.Fatalf("server saw %v", srv.got)
			}
		})
	}
	// A wrong password is refused, and the error does not show it.
	srv := newTLSServer(t, false)
	s, err := smtp.New(smtp.Config{URL: "smtp://mailer:wr0ng-pw@" + srv.addr + "?tls=required", TLSConfig: srv.client, Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Send(context.Background(), testMail()); err == nil || strings.Contains(err.Error(), "wr0ng-pw") {
		t.Fatalf("wrong password: %v", err)
	}
	// A server without STARTTLS is refused when TLS is required.
	sink := smtp.NewSink(fixedClock{}, 0)
	if err := sink.Start("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	defer sink.Stop()
	s, err = smtp.New(smtp.Config{URL: "smtp://" + sink.Addr() + "?tls=required"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Send(context.Background(), testMail()); err == nil || len(sink.Received()) != 0 {
		t.Fatalf("sent without TLS: %v", err)
	}
}

// The sink keeps the newest messages up to its bound.
func TestSinkKeepsTheNewest(t *testing.T) {
	sink := smtp.NewSink(billow.SystemClock{}, 3)
	if err := sink.Start("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	defer sink.Stop()
	s, err := smtp.New(smtp.Config{URL: sink.URL()})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 5 {
		m := testMail()
		m.MessageID = "msg_" + string(rune('a'+i)) + "@billow"
		if _, err := s.Send(context.Background(), m); err != nil {
			t.Fatal(err)
		}
	}
	got := sink.Received()
	if len(got) != 3 || got[0].MessageID != "msg_c@billow" || got[2].MessageID != "msg_e@billow" {
		t.Fatalf("kept %d: %v", len(got), got)
	}
}
