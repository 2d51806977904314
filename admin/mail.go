package admin

import (
	"net/http"
	"net/url"
	"strings"

	"github.com/billowhq/billow"
	"github.com/billowhq/billow/smtp"
)

// The demo's mail catcher: what the in-process SMTP server received, as the recipients
// would read it, secrets included (no mail leaves the machine in the demo). Outside the
// demo there is no catcher and these pages are not found.

type mailPage struct {
	Rows []mailRow
	Full bool // MailShownMax rows: older ones are not listed
}

type mailRow struct {
	Subject, To, From, Received, URL string
	Attachments                      int
}

type mailMessagePage struct {
	Subject, From, To, Received, MessageID, Text, HTMLURL string
	Attachments                                           []string
}

// mailList lists the caught messages, newest first (GET /admin/mail).
func (h *Handler) mailList(w http.ResponseWriter, r *http.Request, v *visit) {
	if h.mail == nil {
		h.fail(w, r, v, billow.NotFound("page", r.URL.Path))
		return
	}
	got := h.mail.Received()
	page := mailPage{}
	for i := len(got) - 1; i >= 0 && len(page.Rows) < MailShownMax; i-- {
		m := got[i]
		page.Rows = append(page.Rows, mailRow{Subject: m.Subject, To: strings.Join(m.To, ", "), From: m.HeaderFrom,
			Received: when(m.ReceivedAt), URL: "/admin/mail/" + url.PathEscape(m.MessageID), Attachments: len(m.Attachments)})
	}
	page.Full = len(got) > MailShownMax
	h.render(w, r, http.StatusOK, "mail.html", v, layout{Title: "Mail catcher", Section: "mail", Content: &page})
}

// caught finds a caught message by its Message-ID, the latest copy if it came twice.
func (h *Handler) caught(id string) (smtp.Received, bool) {
	if h.mail == nil || id == "" {
		return smtp.Received{}, false
	}
	got := h.mail.Received()
	for i := len(got) - 1; i >= 0; i-- {
		if got[i].MessageID == id {
			return got[i], true
		}
	}
	return smtp.Received{}, false
}

// mailMessage shows one caught message (GET /admin/mail/{message}): its envelope, its
// text, and its HTML in a sandboxed frame.
func (h *Handler) mailMessage(w http.ResponseWriter, r *http.Request, v *visit) {
	m, ok := h.caught(r.PathValue("message"))
	if !ok {
		h.fail(w, r, v, billow.NotFound("message", r.PathValue("message")))
		return
	}
	page := mailMessagePage{Subject: m.Subject, From: m.HeaderFrom, To: m.HeaderTo, Received: when(m.ReceivedAt), MessageID: m.MessageID,
		Text: m.Text}
	if m.HTML != "" {
		page.HTMLURL = "/admin/mail/" + url.PathEscape(m.MessageID) + "/html"
	}
	for _, a := range m.Attachments {
		page.Attachments = append(page.Attachments, a.Name+" ("+a.ContentType+", "+plural(a.Size, "byte")+")")
	}
	if page.To == "" {
		page.To = strings.Join(m.To, ", ")
	}
	h.render(w, r, http.StatusOK, "mail_message.html", v, layout{Title: m.Subject, Section: "mail", Content: &page})
}

// mailHTMLPolicy is the Content-Security-Policy of a caught message's HTML: the inline
// styles every email has, images from anywhere (a logo), and nothing that runs. The
// sandbox directive gives the document an opaque origin even when opened on its own,
// so it reaches neither the console's cookies nor its pages.
const mailHTMLPolicy = "default-src 'none'; style-src 'unsafe-inline'; img-src https: http: data:; font-src https: data:; " +
	"sandbox; frame-ancestors 'self'; base-uri 'none'; form-action 'none'"

// mailHTML serves a caught message's HTML (GET /admin/mail/{message}/html) for the frame
// of its page, under mailHTMLPolicy.
func (h *Handler) mailHTML(w http.ResponseWriter, r *http.Request, v *visit) {
	m, ok := h.caught(r.PathValue("message"))
	if !ok || m.HTML == "" {
		h.fail(w, r, v, billow.NotFound("message", r.PathValue("message")))
		return
	}
	hd := w.Header()
	hd.Set("Content-Security-Policy", mailHTMLPolicy)
	hd.Set("X-Frame-Options", "SAMEORIGIN")
	hd.Set("Content-Type", "text/html; charset=utf-8")
	w.Write([]byte(m.HTML))
}
