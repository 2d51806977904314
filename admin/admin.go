// Package admin serves the operator's admin console under /admin/: the pages the people
// of the company running Billow use to look after its accounts, server-rendered with
// html/template from embedded templates and assets. It owns the console's sign-in
// (email and an argon2id-hashed password, then a TOTP code; sessions in a cookie, with a
// CSRF token for every form), and its pages: accounts with search, an account's
// subscription, wallet, invoices and usage, wire transfers awaiting clearance with
// "Mark received", failed payments, the catalogs, the email log and, in the demo, the
// mail catcher. Operators are made by `billow admin create-user` (CreateUser).
//
// One file per page or action: login.go, login_code.go, logout.go, accounts.go,
// account.go, invoice_pdf.go, wire_transfers.go, wire_clear.go, failed_payments.go,
// catalogs.go, emails.go, mail.go; session.go holds the cookie and the CSRF check,
// password.go and totp.go the two factors. docs/admin.md describes the whole.
package admin

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/billowhq/billow"
	"github.com/billowhq/billow/catalog"
	"github.com/billowhq/billow/notify"
	"github.com/billowhq/billow/pdf"
	"github.com/billowhq/billow/smtp"
	"github.com/billowhq/billow/sqlstore"
)

//go:embed templates static
var files embed.FS

// Limits of the console, named with their unit last.
const (
	// FormBodyMaxBytes bounds the body of a console form: its fields are a CSRF token,
	// an email, a password and a few ids.
	FormBodyMaxBytes = 16 << 10
	// PageRowsMax is the rows of one page of the accounts and the email log.
	PageRowsMax = 50
	// ListRowsMax bounds the wire transfers and the failed payments listed.
	ListRowsMax = 200
	// AccountInvoicesMax is how many of an account's latest invoices its page lists.
	AccountInvoicesMax = 24
	// MailShownMax bounds the messages of the mail catcher's page, newest first.
	MailShownMax = 200
	// SearchMaxBytes bounds a search of the accounts.
	SearchMaxBytes = 200
	// PurgeInterval is how often sessions that can no longer be used are deleted.
	PurgeInterval = 10 * time.Minute
	// purgeBatchMax bounds one purge statement.
	purgeBatchMax = 10_000
	// passwordChecksConcurrentMax bounds the argon2id hashes computed at once (each
	// takes argon2MemoryKiB): a burst of sign-ins waits rather than exhausting memory.
	passwordChecksConcurrentMax = 4
)

// Store is what the console reads and writes.
type Store interface {
	// Sign-in and sessions.
	AdminUser(ctx context.Context, id string) (*billow.AdminUser, error)
	AdminUserByEmail(ctx context.Context, email string) (*billow.AdminUser, error)
	RecordAdminLoginFailure(ctx context.Context, userID string) (*billow.AdminUser, error)
	StartAdminLogin(ctx context.Context, userID string) (*billow.AdminSession, string, error)
	CompleteAdminLogin(ctx context.Context, pendingID string, totpStep int64) (*billow.AdminSession, string, error)
	AdminSession(ctx context.Context, secret string) (*billow.AdminSession, error)
	EndAdminSession(ctx context.Context, id string) error
	PurgeAdminSessions(ctx context.Context, limit int) (int, error)

	// The pages: the same reads as the API's, and two lists of the console's own.
	Account(ctx context.Context, ref string) (*billow.Account, error)
	ListAccounts(ctx context.Context, f sqlstore.AccountFilter, page billow.PageInput) (billow.Page[*billow.Account], error)
	AccountCatalog(ctx context.Context, a *billow.Account) (*catalog.Catalog, error)
	LiveSubscription(ctx context.Context, accountID string) (*billow.Subscription, error)
	Wallet(ctx context.Context, accountRef string) (*billow.Wallet, error)
	UsageSummary(ctx context.Context, in billow.UsageSummaryInput) (*billow.UsageSummary, error)
	Invoice(ctx context.Context, id string) (*billow.Invoice, error)
	Invoices(ctx context.Context, f sqlstore.InvoiceFilter) ([]*billow.Invoice, error)
	Order(ctx context.Context, id string) (*billow.Order, []byte, error)
	Orders(ctx context.Context, accountID string, limit int) ([]*billow.Order, error)
	PendingWireOrders(ctx context.Context, limit int) ([]sqlstore.AccountOrder, error)
	FailedPayments(ctx context.Context, limit int) ([]sqlstore.FailedPayment, error)
	Catalog(ctx context.Context, key string, version int64) (*catalog.Catalog, sqlstore.CatalogVersion, error)
	CatalogVersions(ctx context.Context, key string) ([]sqlstore.CatalogVersion, error)
	ListMessages(ctx context.Context, f notify.MessageFilter, page billow.PageInput) (billow.Page[*notify.Message], error)
}

// Billing is what the console asks of the billing service.
type Billing interface {
	// ClearPayment records that a wire transfer arrived: the invoice is paid and the
	// order applied.
	ClearPayment(ctx context.Context, accountRef, orderID string) (*billow.Order, error)
}

// MailCatcher is what the demo's in-process SMTP sink received. *smtp.Sink implements it.
type MailCatcher interface {
	Received() []smtp.Received
}

// Config wires a Handler.
type Config struct {
	Store Store
	// Billing clears wire transfers. Without it "Mark received" answers 500 (a wiring
	// fault).
	Billing Billing
	// MailCatcher is the demo's mail catcher, shown as the Mail catcher page; nil outside
	// the demo, and the page is not there.
	MailCatcher MailCatcher
	Clock       billow.Clock
	Logger      *slog.Logger
	// Branding is the operator's look of invoice PDFs; its name heads the console.
	Branding pdf.Branding
	// PublicURL is where Billow is reached (BILLOW_PUBLIC_URL). When it is https, the
	// session cookie is Secure even if TLS ends at a proxy in front of Billow.
	PublicURL string
}

// Handler serves every page of the console under /admin/.
type Handler struct {
	store     Store
	billing   Billing
	mail      MailCatcher
	clock     billow.Clock
	logger    *slog.Logger
	branding  pdf.Branding
	publicURL *url.URL // nil when none is configured
	pages     map[string]*template.Template
	assets    map[string]asset
	mux       *http.ServeMux
	// dummyHash is verified against when the email is unknown, so that the answer takes
	// as long as for a known operator and does not tell the two apart by its time.
	dummyHash string
	// hashSlots bounds the argon2id computations at once (passwordChecksConcurrentMax).
	hashSlots chan struct{}
}

// New checks cfg and returns the console's handler.
func New(cfg Config) (*Handler, error) {
	if cfg.Store == nil {
		return nil, errors.New("admin: a store is required")
	}
	if cfg.Clock == nil {
		cfg.Clock = billow.SystemClock{}
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if err := cfg.Branding.Validate(); err != nil {
		return nil, fmt.Errorf("admin: branding: %w", err)
	}
	h := &Handler{store: cfg.Store, billing: cfg.Billing, mail: cfg.MailCatcher, clock: cfg.Clock,
		logger: cfg.Logger.With("component", "admin"), branding: cfg.Branding,
		dummyHash: HashPassword(billow.NewPortalToken()), hashSlots: make(chan struct{}, passwordChecksConcurrentMax)}
	if cfg.PublicURL != "" {
		u, err := url.Parse(strings.TrimRight(cfg.PublicURL, "/"))
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return nil, errors.New("admin: the public URL must be an absolute http(s) URL")
		}
		h.publicURL = u
	}
	var err error
	if h.assets, err = loadAssets(); err != nil {
		return nil, err
	}
	if h.pages, err = parsePages(); err != nil {
		return nil, err
	}
	h.routes()
	return h, nil
}

// routes registers every page and action, one file each.
func (h *Handler) routes() {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /admin/login", h.login)
	mux.HandleFunc("POST /admin/login", h.loginSubmit)
	mux.HandleFunc("GET /admin/login/code", h.withPending(h.loginCode))
	mux.HandleFunc("POST /admin/login/code", h.withPending(h.loginCodeSubmit))
	mux.HandleFunc("POST /admin/logout", h.withOperator(h.logout))
	mux.HandleFunc("GET /admin/{$}", h.withOperator(func(w http.ResponseWriter, r *http.Request, _ *visit) {
		redirect(w, r, "/admin/accounts")
	}))
	mux.HandleFunc("GET /admin/accounts", h.withOperator(h.accounts))
	mux.HandleFunc("GET /admin/accounts/{account}", h.withOperator(h.account))
	mux.HandleFunc("GET /admin/invoices/{invoice}/pdf", h.withOperator(h.invoicePDF))
	mux.HandleFunc("GET /admin/wire-transfers", h.withOperator(h.wireTransfers))
	mux.HandleFunc("POST /admin/orders/{order}/clear", h.withOperator(h.wireClear))
	mux.HandleFunc("GET /admin/failed-payments", h.withOperator(h.failedPayments))
	mux.HandleFunc("GET /admin/catalogs", h.withOperator(h.catalogs))
	mux.HandleFunc("GET /admin/emails", h.withOperator(h.emails))
	mux.HandleFunc("GET /admin/mail", h.withOperator(h.mailList))
	mux.HandleFunc("GET /admin/mail/{message}", h.withOperator(h.mailMessage))
	mux.HandleFunc("GET /admin/mail/{message}/html", h.withOperator(h.mailHTML))
	mux.HandleFunc("GET /admin/static/{file}", h.static)
	mux.HandleFunc("/admin/", h.withOperator(func(w http.ResponseWriter, r *http.Request, v *visit) {
		h.fail(w, r, v, billow.NotFound("page", r.URL.Path))
	}))
	h.mux = mux
}

// contentSecurityPolicy allows the console's own stylesheet and nothing else to run or
// load: no script at all, no inline style; frames only from the console itself (the mail
// catcher's message view), and the console in no one's frame.
const contentSecurityPolicy = "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; " +
	"frame-src 'self'; frame-ancestors 'none'; base-uri 'none'"

// ServeHTTP serves a request under /admin/ with the console's security headers.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	hd := w.Header()
	hd.Set("Content-Security-Policy", contentSecurityPolicy)
	hd.Set("X-Frame-Options", "DENY")
	hd.Set("X-Content-Type-Options", "nosniff")
	// Not no-referrer, under which browsers send "Origin: null" with the console's own
	// forms, which sameOrigin must refuse.
	hd.Set("Referrer-Policy", "same-origin")
	hd.Set("Cross-Origin-Opener-Policy", "same-origin")
	hd.Set("Cross-Origin-Resource-Policy", "same-origin")
	hd.Set("Permissions-Policy", "camera=(), microphone=(), geolocation=(), payment=()")
	// Every account's billing: no cache keeps a page. Static files override this.
	hd.Set("Cache-Control", "no-store")
	if r.TLS != nil {
		hd.Set("Strict-Transport-Security", "max-age=31536000")
	}
	h.mux.ServeHTTP(w, r)
}

// Purge deletes sessions that can no longer be used; it fits a periodic job.
func (h *Handler) Purge(ctx context.Context, _ time.Time) error {
	n, err := h.store.PurgeAdminSessions(ctx, purgeBatchMax)
	if err != nil {
		return err
	}
	if n > 0 {
		h.logger.InfoContext(ctx, "admin sessions purged", "count", n)
	}
	return nil
}

// visit is what every page of a signed-in session knows: which operator is looking.
type visit struct {
	session  *billow.AdminSession
	operator *billow.AdminUser
}

// layout is what the shared layout shows around every page.
type layout struct {
	Title     string
	Section   string // the nav entry that is current
	BrandName string
	Assets    map[string]string // asset name → versioned URL
	Operator  *billow.AdminUser // nil before sign-in: no navigation
	HasMail   bool              // the demo's mail catcher runs
	CSRF      string
	Notice    string
	Error     string
	RequestID string
	Content   any
}

// render writes a page of the layout with status.
func (h *Handler) render(w http.ResponseWriter, r *http.Request, status int, name string, v *visit, l layout) {
	t, ok := h.pages[name]
	if !ok {
		panic("admin: no page template " + name)
	}
	l.BrandName, l.Assets, l.HasMail = h.branding.Name, h.assetURLs(), h.mail != nil
	if v != nil {
		l.Operator, l.CSRF = v.operator, v.session.CSRFToken
	}
	if status >= 400 {
		l.RequestID = w.Header().Get("X-Request-Id") // what a colleague asks for
	}
	var b strings.Builder
	if err := t.ExecuteTemplate(&b, "layout", l); err != nil {
		h.logger.ErrorContext(r.Context(), "render page", "page", name, "error", err)
		http.Error(w, "the page could not be shown", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	w.Write([]byte(b.String()))
}

// message is the content of a page that only says something.
type message struct {
	Heading string
	Text    string
	Back    string // a link back into the console, or ""
}

// fail answers an error as a page: the domain kinds an operator can act on say what
// happened; anything else is logged and shown as a fault with its request id.
func (h *Handler) fail(w http.ResponseWriter, r *http.Request, v *visit, err error) {
	switch billow.ErrorKindOf(err) {
	case billow.KindNotFound:
		h.render(w, r, http.StatusNotFound, "message.html", v, layout{Title: "Not found",
			Content: message{Heading: "Not found", Text: "There is nothing here. It may have been removed, or the address is mistyped.", Back: "/admin/accounts"}})
	case billow.KindConflict:
		h.render(w, r, http.StatusConflict, "message.html", v, layout{Title: "Not possible now",
			Content: message{Heading: "Not possible now", Text: errorMessage(err), Back: "/admin/accounts"}})
	default:
		h.logger.ErrorContext(r.Context(), "admin request failed", "error", err, "path", r.URL.Path,
			"request_id", w.Header().Get("X-Request-Id"))
		h.render(w, r, http.StatusInternalServerError, "message.html", v, layout{Title: "Something went wrong",
			Content: message{Heading: "Something went wrong", Back: "/admin/accounts",
				Text: "The console could not complete this request. It was logged with its request id; try again in a moment."}})
	}
}

// errorMessage is the safe message of a domain error.
func errorMessage(err error) string {
	var e *billow.Error
	if errors.As(err, &e) {
		return e.Message
	}
	return "The request could not be completed."
}

// redirect answers a form post or a link with a redirect that the browser follows
// with GET (Post/Redirect/Get: a reload does not post again).
func redirect(w http.ResponseWriter, r *http.Request, to string) {
	http.Redirect(w, r, to, http.StatusSeeOther)
}

// subFS returns the embedded directory dir.
func subFS(dir string) fs.FS {
	sub, err := fs.Sub(files, dir)
	if err != nil {
		panic(err) // the directories are embedded at build time
	}
	return sub
}
