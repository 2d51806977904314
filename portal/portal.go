// Package portal serves the billing portal a platform hands its customers: the pages of
// seed 000's Billing section (Plan & Usage with its Usage Trends, Credits, Payment
// methods, Subscribe / Modify, Invoices, Deployments) and seed 004's pricing calculator,
// in the operator's branding, server-rendered with html/template from embedded templates
// and assets, under /portal/. A platform's backend asks for a one-time link with
// POST /v1/portal_sessions (package http); opening it starts a session held in a cookie,
// bound to one account and to a member whose role decides what the session may do.
//
// One file per page or group of actions: enter.go, plan.go, credits.go,
// payment_methods.go, plans.go (plans, checkout, orders), invoices.go, invoice_pdf.go,
// invoices_csv.go, invoice_pay.go, deployments.go, calculator.go, logout.go; session.go
// holds the cookie and the CSRF check, chart.go draws the usage chart as SVG.
// docs/portal.md describes the whole.
package portal

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
	"sync"
	"time"

	"github.com/billowhq/billow"
	"github.com/billowhq/billow/billing"
	"github.com/billowhq/billow/catalog"
	"github.com/billowhq/billow/pdf"
	"github.com/billowhq/billow/sqlstore"
)

//go:embed templates static
var files embed.FS

// Limits of the portal, named with their unit last.
const (
	// FormBodyMaxBytes bounds the body of a portal form: its fields are a CSRF token
	// and a few ids.
	FormBodyMaxBytes = 16 << 10
	// AppsMax bounds the apps listed in the app filter.
	AppsMax = 1000
	// PurgeInterval is how often sessions that can no longer be used are deleted.
	PurgeInterval = 10 * time.Minute
	// purgeBatchMax bounds one purge statement.
	purgeBatchMax = 10_000
)

// Store is what the portal reads and writes.
type Store interface {
	EnterPortal(ctx context.Context, token string) (*billow.PortalSession, string, error)
	PortalSession(ctx context.Context, secret string) (*billow.PortalSession, error)
	EndPortalSession(ctx context.Context, id string) error
	PurgePortalSessions(ctx context.Context, limit int) (int, error)

	Account(ctx context.Context, ref string) (*billow.Account, error)
	AccountCatalog(ctx context.Context, a *billow.Account) (*catalog.Catalog, error)
	Member(ctx context.Context, accountID, ref string) (*billow.Member, error)
	ListApps(ctx context.Context, accountID string, page billow.PageInput) (billow.Page[*billow.App], error)
	LiveSubscription(ctx context.Context, accountID string) (*billow.Subscription, error)
	PaymentMethods(ctx context.Context, accountID string) ([]*billow.PaymentMethod, error)
	Wallet(ctx context.Context, accountRef string) (*billow.Wallet, error)
	// UsageTrends and UsageSummary are the reads of the usage API: the portal shows
	// the same numbers, from the same rollups.
	UsageTrends(ctx context.Context, in billow.UsageTrendsInput) (*billow.UsageTrends, error)
	UsageSummary(ctx context.Context, in billow.UsageSummaryInput) (*billow.UsageSummary, error)
	Invoice(ctx context.Context, id string) (*billow.Invoice, error)
	Invoices(ctx context.Context, f sqlstore.InvoiceFilter) ([]*billow.Invoice, error)

	// What each further page reads, declared beside the page (credits.go,
	// payment_methods.go, plans.go, deployments.go, calculator.go).
	creditsStore
	paymentMethodsStore
	plansStore
	deploymentsStore
	calculatorStore
}

// Billing is what the portal asks of the billing service.
type Billing interface {
	UpcomingInvoice(ctx context.Context, accountRef string) (*billow.Invoice, error)
	PayInvoice(ctx context.Context, accountRef, invoiceID string, in billing.PayInvoiceInput) (*billow.Invoice, error)

	// What each further page asks, declared beside the page.
	creditsBilling
	paymentMethodsBilling
	plansBilling
}

// Config wires a Handler.
type Config struct {
	Store Store
	// Billing previews the next invoice and pays open ones. Without it the preview is
	// left out and paying answers 500 (a wiring fault).
	Billing Billing
	// AutoCharge reads and sets the Credits page's auto-charge settings (package
	// autocharge). Without it the settings are left out of the page.
	AutoCharge AutoCharge
	Clock      billow.Clock
	Logger     *slog.Logger
	// Branding is the operator's look, shared with invoice PDFs: its name heads every
	// page and its accent colour is the portal's.
	Branding pdf.Branding
	// PublicURL is where Billow is reached (BILLOW_PUBLIC_URL). When it is https, the
	// session cookie is Secure even if TLS ends at a proxy in front of Billow.
	PublicURL string
}

// Handler serves every page of the portal under /portal/.
type Handler struct {
	store      Store
	billing    Billing
	autoCharge AutoCharge
	clock      billow.Clock
	logger     *slog.Logger
	brand      brand
	branding   pdf.Branding // for invoice PDFs, as the API renders them
	publicURL  *url.URL     // nil when none is configured
	pages      map[string]*template.Template
	assets     map[string]asset // embedded static files by name
	zones      sync.Map         // time zone name → *time.Location
	mux        *http.ServeMux
}

// New checks cfg and returns the portal's handler.
func New(cfg Config) (*Handler, error) {
	if cfg.Store == nil {
		return nil, errors.New("portal: a store is required")
	}
	if cfg.Clock == nil {
		cfg.Clock = billow.SystemClock{}
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if err := cfg.Branding.Validate(); err != nil {
		return nil, fmt.Errorf("portal: branding: %w", err)
	}
	h := &Handler{store: cfg.Store, billing: cfg.Billing, autoCharge: cfg.AutoCharge, clock: cfg.Clock, logger: cfg.Logger.With("component", "portal"),
		branding: cfg.Branding}
	if cfg.PublicURL != "" {
		u, err := url.Parse(strings.TrimRight(cfg.PublicURL, "/"))
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return nil, errors.New("portal: the public URL must be an absolute http(s) URL")
		}
		h.publicURL = u
	}
	var err error
	if h.brand, err = newBrand(cfg.Branding); err != nil {
		return nil, err
	}
	if h.assets, err = loadAssets(); err != nil {
		return nil, err
	}
	if h.pages, err = parsePages(h.assets); err != nil {
		return nil, err
	}
	h.routes()
	return h, nil
}

// routes registers every page and action, one file each.
func (h *Handler) routes() {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /portal/enter", h.enter)
	mux.HandleFunc("GET /portal/{$}", h.withVisit(h.plan))
	mux.HandleFunc("GET /portal/invoices", h.withVisit(h.invoices))
	mux.HandleFunc("GET /portal/invoices.csv", h.withVisit(h.invoicesCSV))
	mux.HandleFunc("GET /portal/invoices/{invoice}", h.withVisit(h.invoiceLink))
	mux.HandleFunc("GET /portal/invoices/{invoice}/pdf", h.withVisit(h.invoicePDF))
	mux.HandleFunc("POST /portal/invoices/{invoice}/pay", h.withVisit(h.requirePayer(h.invoicePay)))
	mux.HandleFunc("GET /portal/credits", h.withVisit(h.credits))
	mux.HandleFunc("GET /portal/credits/transactions.csv", h.withVisit(h.transactionsCSV))
	mux.HandleFunc("POST /portal/credits/buy", h.withVisit(h.requirePayer(h.creditsBuy)))
	mux.HandleFunc("POST /portal/credits/auto-charge", h.withVisit(h.requirePayer(h.autoChargeSet)))
	mux.HandleFunc("POST /portal/credits/auto-billing", h.withVisit(h.requirePayer(h.autoBillingSet)))
	mux.HandleFunc("GET /portal/payment-methods", h.withVisit(h.paymentMethods))
	mux.HandleFunc("POST /portal/payment-methods", h.withVisit(h.requirePayer(h.paymentMethodAdd)))
	mux.HandleFunc("POST /portal/payment-methods/{method}/default", h.withVisit(h.requirePayer(h.paymentMethodDefault)))
	mux.HandleFunc("GET /portal/plans", h.withVisit(h.plans))
	mux.HandleFunc("GET /portal/plans/checkout", h.withVisit(h.checkout))
	mux.HandleFunc("POST /portal/orders", h.withVisit(h.requirePayer(h.orderSubmit)))
	mux.HandleFunc("GET /portal/orders/{order}", h.withVisit(h.order))
	mux.HandleFunc("POST /portal/orders/{order}/confirm", h.withVisit(h.requirePayer(h.orderConfirm)))
	mux.HandleFunc("GET /portal/deployments", h.withVisit(h.deployments))
	mux.HandleFunc("POST /portal/deployments", h.withVisit(h.deploymentRequest))
	mux.HandleFunc("POST /portal/deployments/{deployment}/approve", h.withVisit(h.deploymentApprove))
	mux.HandleFunc("POST /portal/deployments/{deployment}/reject", h.withVisit(h.deploymentReject))
	mux.HandleFunc("GET /portal/calculator", h.withVisit(h.calculator))
	mux.HandleFunc("POST /portal/logout", h.withVisit(h.logout))
	mux.HandleFunc("GET /portal/static/{file}", h.static)
	mux.HandleFunc("GET /portal/brand.css", h.brandCSS)
	mux.HandleFunc("GET /portal/logo.png", h.logo)
	mux.HandleFunc("/portal/", h.notFound)
	h.mux = mux
}

// ServeHTTP serves a request under /portal/ with the portal's security headers.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	hd := w.Header()
	// No inline script or style anywhere: the pages load portal.js and the CSS files
	// from this origin, and the chart is inline SVG, which needs neither.
	hd.Set("Content-Security-Policy", "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "+
		"connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
	hd.Set("X-Frame-Options", "DENY")
	hd.Set("X-Content-Type-Options", "nosniff")
	// Billing pages are nobody else's business: no other site learns their URLs. Not
	// no-referrer, under which browsers send "Origin: null" with the portal's own forms,
	// which sameOrigin must refuse. The entry URL, which carries a token, is never a
	// referrer: it answers with a redirect.
	hd.Set("Referrer-Policy", "same-origin")
	hd.Set("Cross-Origin-Opener-Policy", "same-origin")
	hd.Set("Cross-Origin-Resource-Policy", "same-origin")
	hd.Set("Permissions-Policy", "camera=(), microphone=(), geolocation=(), payment=()")
	// Pages show one account's billing: no shared cache may keep them. Static files
	// override this with their own.
	hd.Set("Cache-Control", "no-store")
	if r.TLS != nil {
		hd.Set("Strict-Transport-Security", "max-age=31536000")
	}
	h.mux.ServeHTTP(w, r)
}

// Purge deletes sessions that can no longer be used; it fits a periodic job.
func (h *Handler) Purge(ctx context.Context, _ time.Time) error {
	n, err := h.store.PurgePortalSessions(ctx, purgeBatchMax)
	if err != nil {
		return err
	}
	if n > 0 {
		h.logger.InfoContext(ctx, "portal sessions purged", "count", n)
	}
	return nil
}

// visit is what every page of a session knows: who is looking at which account.
type visit struct {
	session *billow.PortalSession
	account *billow.Account
	member  *billow.Member
}

// principal is the visit as a caller of the API's rules: an account-scoped caller,
// who never sees another account nor an enterprise account's hidden invoices.
func (v *visit) principal() billow.Principal {
	return billow.Principal{KeyID: v.session.ID, AccountID: v.account.ID}
}

// canPay reports whether the visit may pay and change the plan (owner and billing).
func (v *visit) canPay() bool { return v.session.Role.CanPay() }

// layout is what the shared layout shows around every page.
type layout struct {
	Title     string
	Section   string // the nav entry that is current: plan, credits, payment-methods, invoices, deployments, calculator
	Brand     brand
	Assets    map[string]string // asset name → versioned URL
	Account   *billow.Account
	Member    *billow.Member
	Role      billow.Role
	CanPay    bool
	ReturnURL string
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
		panic("portal: no page template " + name)
	}
	l.Brand, l.Assets = h.brand, h.assetURLs()
	if v != nil {
		l.Account, l.Member, l.Role, l.CanPay = v.account, v.member, v.session.Role, v.canPay()
		l.ReturnURL, l.CSRF = v.session.ReturnURL, v.session.CSRFToken
	}
	if status >= 400 {
		l.RequestID = w.Header().Get("X-Request-Id") // what support asks for
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
	Back    string // a link back into the portal, or ""
}

// fail answers an error as a page: the domain kinds the user can act on say what
// happened; anything else is logged and shown as a fault with its request id.
func (h *Handler) fail(w http.ResponseWriter, r *http.Request, v *visit, err error) {
	switch billow.ErrorKindOf(err) {
	case billow.KindNotFound:
		h.render(w, r, http.StatusNotFound, "message.html", v, layout{Title: "Not found",
			Content: message{Heading: "Not found", Text: "There is nothing here, or it belongs to another account.", Back: "/portal/"}})
	case billow.KindConflict:
		h.render(w, r, http.StatusConflict, "message.html", v, layout{Title: "Not available yet",
			Content: message{Heading: "Not available yet", Text: "This invoice is not final yet, so it has no PDF.", Back: "/portal/invoices"}})
	case billow.KindUnauthorized:
		h.signedOut(w, r, http.StatusUnauthorized, "Your billing session has ended",
			"For your security, billing sessions end after 30 minutes without activity and 12 hours after they begin. Open Billing again from the platform to continue.")
	default:
		h.logger.ErrorContext(r.Context(), "portal request failed", "error", err, "path", r.URL.Path,
			"request_id", w.Header().Get("X-Request-Id"))
		h.render(w, r, http.StatusInternalServerError, "message.html", v, layout{Title: "Something went wrong",
			Content: message{Heading: "Something went wrong", Back: "/portal/",
				Text: "Billing could not complete this request. It was logged; please try again in a moment."}})
	}
}

// forbidden answers 403 with what the user can do about it.
func (h *Handler) forbidden(w http.ResponseWriter, r *http.Request, v *visit, text string) {
	h.render(w, r, http.StatusForbidden, "message.html", v, layout{Title: "Not allowed",
		Content: message{Heading: "Not allowed", Text: text, Back: "/portal/"}})
}

// signedOut answers a request without a session.
func (h *Handler) signedOut(w http.ResponseWriter, r *http.Request, status int, heading, text string) {
	h.render(w, r, status, "message.html", nil, layout{Title: heading, Content: message{Heading: heading, Text: text}})
}

func (h *Handler) notFound(w http.ResponseWriter, r *http.Request) {
	v, _ := h.currentVisit(r)
	h.fail(w, r, v, billow.NotFound("page", r.URL.Path))
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
