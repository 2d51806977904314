package smtp

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"log"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net"
	"net/mail"
	"strings"
	"sync"
	"time"

	gosmtp "github.com/emersion/go-smtp"

	"github.com/billowhq/billow"
)

// Limits of the sink, named with their unit last.
const (
	// SinkKeepDefault is how many messages a sink keeps when NewSink is given 0: the
	// oldest are dropped first.
	SinkKeepDefault = 500
	// SinkKeepMax bounds what a sink keeps, in messages.
	SinkKeepMax = 10_000
	// sinkMessageMaxBytes bounds one message the sink accepts (an invoice PDF is far less).
	sinkMessageMaxBytes = 10 << 20
	// sinkRecipientsMax bounds the recipients of one message.
	sinkRecipientsMax = 100
	// sinkPartsMax bounds the MIME parts the sink reads of one message.
	sinkPartsMax = 50
	sinkTimeout  = 30 * time.Second
)

// Received is one message a sink received, decoded for reading.
type Received struct {
	ReceivedAt time.Time `json:"received_at"`
	// From and To are the envelope: MAIL FROM and RCPT TO.
	From      string   `json:"from"`
	To        []string `json:"to"`
	MessageID string   `json:"message_id" doc:"The Message-ID header without angle brackets."`
	Subject   string   `json:"subject"`
	// HeaderFrom and HeaderTo are the message's From and To headers as written.
	HeaderFrom string `json:"header_from"`
	HeaderTo   string `json:"header_to"`
	// Alternative says the text and HTML came as the two parts of a multipart/alternative.
	Alternative bool           `json:"alternative"`
	Text        string         `json:"text"`
	HTML        string         `json:"html"`
	Attachments []ReceivedFile `json:"attachments"`
	Size        int            `json:"size_bytes"`
}

// ReceivedFile is an attachment of a received message.
type ReceivedFile struct {
	Name        string `json:"name"`
	ContentType string `json:"content_type"`
	Size        int    `json:"size_bytes"`
	Data        []byte `json:"-"`
}

// Sink is an SMTP server that accepts every message and keeps the last ones in memory: the
// demo's mail catcher (no mail leaves the machine) and the tests' mailbox. Start and Stop
// may be called again, on the same address, to play a server that goes down and comes back.
type Sink struct {
	clock billow.Clock
	keep  int

	mu       sync.Mutex // protects the following fields
	received []Received
	server   *gosmtp.Server
	addr     string
	reject   func(rcpt string) error
}

// SetReject makes the sink answer each RCPT TO with reject's error: a *gosmtp.SMTPError
// refuses the recipient with its code (tests play a server that refuses or is slow). nil
// accepts every recipient again.
func (s *Sink) SetReject(reject func(rcpt string) error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.reject = reject
}

// NewSink returns a sink that keeps the last keep messages (SinkKeepDefault when 0).
func NewSink(clock billow.Clock, keep int) *Sink {
	if keep <= 0 {
		keep = SinkKeepDefault
	}
	keep = min(keep, SinkKeepMax)
	return &Sink{clock: clock, keep: keep}
}

// Start listens on addr ("127.0.0.1:0" for a free port) and serves in the background.
func (s *Sink) Start(addr string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.server != nil {
		return errors.New("smtp: the sink is already running")
	}
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("smtp: sink: %w", err)
	}
	srv := gosmtp.NewServer(gosmtp.BackendFunc(func(*gosmtp.Conn) (gosmtp.Session, error) { return &sinkSession{sink: s}, nil }))
	srv.Domain = "localhost"
	srv.MaxMessageBytes = sinkMessageMaxBytes
	srv.MaxRecipients = sinkRecipientsMax
	srv.ReadTimeout, srv.WriteTimeout = sinkTimeout, sinkTimeout
	srv.ErrorLog = log.New(io.Discard, "", 0) // a client that hangs up is not news
	s.server, s.addr = srv, l.Addr().String()
	go srv.Serve(l)
	return nil
}

// Stop closes the listener and every open connection; what was received is kept.
func (s *Sink) Stop() error {
	s.mu.Lock()
	srv := s.server
	s.server = nil
	s.mu.Unlock()
	if srv == nil {
		return nil
	}
	return srv.Close()
}

// Addr is the address the sink listens (or last listened) on, host:port.
func (s *Sink) Addr() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.addr
}

// URL is the smtp:// URL a Sender delivers to the sink with.
func (s *Sink) URL() string { return "smtp://" + s.Addr() + "?tls=none" }

// Received returns what the sink kept, oldest first.
func (s *Sink) Received() []Received {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Received(nil), s.received...)
}

func (s *Sink) add(r Received) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.received) == s.keep {
		copy(s.received, s.received[1:])
		s.received = s.received[:len(s.received)-1]
	}
	s.received = append(s.received, r)
}

type sinkSession struct {
	sink *Sink
	from string
	to   []string
}

func (ss *sinkSession) Reset()        { ss.from, ss.to = "", nil }
func (ss *sinkSession) Logout() error { return nil }

func (ss *sinkSession) Mail(from string, _ *gosmtp.MailOptions) error {
	ss.from = from
	return nil
}

func (ss *sinkSession) Rcpt(to string, _ *gosmtp.RcptOptions) error {
	ss.sink.mu.Lock()
	reject := ss.sink.reject
	ss.sink.mu.Unlock()
	if reject != nil {
		if err := reject(to); err != nil {
			return err
		}
	}
	ss.to = append(ss.to, to)
	return nil
}

func (ss *sinkSession) Data(r io.Reader) error {
	raw, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	rec, err := parseMessage(raw)
	if err != nil {
		return &gosmtp.SMTPError{Code: 554, EnhancedCode: gosmtp.EnhancedCode{5, 6, 0}, Message: "malformed message: " + err.Error()}
	}
	rec.ReceivedAt = ss.sink.clock.Now()
	rec.From, rec.To = ss.from, append([]string(nil), ss.to...)
	ss.sink.add(rec)
	return nil
}

// parseMessage decodes the headers, text, HTML and attachments of a raw message.
func parseMessage(raw []byte) (Received, error) {
	m, err := mail.ReadMessage(bytes.NewReader(raw))
	if err != nil {
		return Received{}, err
	}
	dec := new(mime.WordDecoder)
	subject, err := dec.DecodeHeader(m.Header.Get("Subject"))
	if err != nil {
		subject = m.Header.Get("Subject")
	}
	rec := Received{Size: len(raw), Subject: subject, Attachments: []ReceivedFile{},
		MessageID:  strings.Trim(strings.TrimSpace(m.Header.Get("Message-Id")), "<>"),
		HeaderFrom: decodeHeader(dec, m.Header.Get("From")), HeaderTo: decodeHeader(dec, m.Header.Get("To"))}
	parts := 0
	err = walkPart(m.Header, m.Body, &rec, &parts)
	return rec, err
}

func decodeHeader(dec *mime.WordDecoder, v string) string {
	if d, err := dec.DecodeHeader(v); err == nil {
		return d
	}
	return v
}

// header is what walkPart reads of a message's or a part's header.
type header interface{ Get(string) string }

// walkPart reads one MIME part, descending into multiparts.
func walkPart(h header, body io.Reader, rec *Received, parts *int) error {
	*parts++
	if *parts > sinkPartsMax {
		return fmt.Errorf("more than %d MIME parts", sinkPartsMax)
	}
	ct := h.Get("Content-Type")
	if ct == "" {
		ct = "text/plain"
	}
	mediaType, params, err := mime.ParseMediaType(ct)
	if err != nil {
		return fmt.Errorf("content type: %w", err)
	}
	if strings.HasPrefix(mediaType, "multipart/") {
		alternative := mediaType == "multipart/alternative"
		mr := multipart.NewReader(body, params["boundary"])
		var kinds []string
		for {
			p, err := mr.NextRawPart()
			if err == io.EOF {
				break
			}
			if err != nil {
				return err
			}
			pt, _, _ := mime.ParseMediaType(p.Header.Get("Content-Type"))
			kinds = append(kinds, pt)
			if err := walkPart(p.Header, p, rec, parts); err != nil {
				return err
			}
		}
		if alternative && contains(kinds, "text/plain") && contains(kinds, "text/html") {
			rec.Alternative = true
		}
		return nil
	}
	data, err := decodeBody(h.Get("Content-Transfer-Encoding"), body)
	if err != nil {
		return err
	}
	disposition, dparams, _ := mime.ParseMediaType(h.Get("Content-Disposition"))
	switch {
	case disposition != "attachment" && mediaType == "text/plain" && rec.Text == "":
		rec.Text = string(data)
	case disposition != "attachment" && mediaType == "text/html" && rec.HTML == "":
		rec.HTML = string(data)
	default:
		name := dparams["filename"]
		if name == "" {
			name = params["name"]
		}
		rec.Attachments = append(rec.Attachments, ReceivedFile{Name: name, ContentType: mediaType, Size: len(data), Data: data})
	}
	return nil
}

func decodeBody(encoding string, body io.Reader) ([]byte, error) {
	switch strings.ToLower(strings.TrimSpace(encoding)) {
	case "quoted-printable":
		return io.ReadAll(quotedprintable.NewReader(body))
	case "base64":
		return io.ReadAll(base64.NewDecoder(base64.StdEncoding, newlineStripper{body}))
	default:
		return io.ReadAll(body)
	}
}

// newlineStripper drops CR and LF, which base64 bodies wrap their lines with.
type newlineStripper struct{ r io.Reader }

func (n newlineStripper) Read(p []byte) (int, error) {
	for {
		k, err := n.r.Read(p)
		j := 0
		for _, c := range p[:k] {
			if c != '\r' && c != '\n' {
				p[j] = c
				j++
			}
		}
		if j > 0 || err != nil {
			return j, err
		}
	}
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}
