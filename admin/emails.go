package admin

import (
	"net/http"
	"net/url"

	"github.com/billowhq/billow"
	"github.com/billowhq/billow/notify"
)

// emailsPage is the content of the email log.
type emailsPage struct {
	Status   string
	Statuses []option
	Rows     []emailRow
	NextURL  string
	FirstURL string
}

type option struct {
	Value, Text string
	Selected    bool
}

type emailRow struct {
	ID, Created, Template, To, Subject, Attempts, LastError, Account, AccountURL string
	Status                                                                       badge
}

// emails lists the messages Billow made, newest first, PageRowsMax a page
// (GET /admin/emails?status=…): template, recipient, subject, delivery status and
// attempts, and the last error of one that failed. Bodies are not shown: one may hold a
// secret (docs/notifications.md).
func (h *Handler) emails(w http.ResponseWriter, r *http.Request, v *visit) {
	q := r.URL.Query()
	status := notify.Status(q.Get("status"))
	if status != "" && !status.Valid() {
		status = ""
	}
	after := q.Get("after")
	p, err := h.store.ListMessages(r.Context(), notify.MessageFilter{Status: status}, billow.PageInput{Limit: PageRowsMax, StartingAfter: after})
	if err != nil {
		h.fail(w, r, v, err)
		return
	}
	page := emailsPage{Status: string(status)}
	for _, s := range []notify.Status{"", notify.StatusQueued, notify.StatusSending, notify.StatusSent, notify.StatusFailed} {
		text := label(string(s))
		if s == "" {
			text = "Any status"
		}
		page.Statuses = append(page.Statuses, option{Value: string(s), Text: text, Selected: s == status})
	}
	for _, m := range p.Data {
		to := m.ToEmail
		if m.ToName != "" {
			to = m.ToName + " <" + m.ToEmail + ">"
		}
		row := emailRow{ID: m.ID, Created: when(m.CreatedAt), Template: m.Template, To: to, Subject: m.Subject,
			Attempts: itoa64(m.Attempts), LastError: m.LastError, Status: statusBadge(string(m.Status))}
		if m.Account != "" {
			row.Account, row.AccountURL = m.Account, "/admin/accounts/"+url.PathEscape(m.Account)
		}
		page.Rows = append(page.Rows, row)
	}
	link := func(after string) string {
		v := url.Values{}
		if status != "" {
			v.Set("status", string(status))
		}
		if after != "" {
			v.Set("after", after)
		}
		if len(v) == 0 {
			return "/admin/emails"
		}
		return "/admin/emails?" + v.Encode()
	}
	if p.HasMore && len(p.Data) > 0 {
		page.NextURL = link(p.Data[len(p.Data)-1].ID)
	}
	if after != "" {
		page.FirstURL = link("")
	}
	h.render(w, r, http.StatusOK, "emails.html", v, layout{Title: "Email log", Section: "emails", Content: &page})
}
