// Package http serves Billow over HTTP: the JSON API under /v1 (huma, OpenAPI 3.1), the
// health, readiness and metrics endpoints, and the middleware every request passes:
// request ids, access log, metrics, body limits, authentication, idempotency keys.
package http

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/danielgtaylor/huma/v2"
	"github.com/danielgtaylor/huma/v2/adapters/humago"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/billowhq/billow"
	"github.com/billowhq/billow/billing"
	"github.com/billowhq/billow/catalog"
	"github.com/billowhq/billow/pdf"
	"github.com/billowhq/billow/sqlstore"
)

// Store is what the HTTP layer needs of storage.
type Store interface {
	IdempotencyStore
	Ping(ctx context.Context) error
	MigrationsCurrent(ctx context.Context) (bool, error)

	PrincipalForSecret(ctx context.Context, secret string) (billow.Principal, error)
	CreateAPIKey(ctx context.Context, name, accountID string) (*billow.APIKey, string, error)
	ListAPIKeys(ctx context.Context, page billow.PageInput) (billow.Page[*billow.APIKey], error)
	RevokeAPIKey(ctx context.Context, id string) (*billow.APIKey, error)

	CreateAccount(ctx context.Context, in billow.CreateAccountInput) (*billow.Account, error)
	Account(ctx context.Context, ref string) (*billow.Account, error)
	ListAccounts(ctx context.Context, f sqlstore.AccountFilter, page billow.PageInput) (billow.Page[*billow.Account], error)
	UpdateAccount(ctx context.Context, id string, in billow.UpdateAccountInput) (*billow.Account, error)
	MigrateAccountCatalog(ctx context.Context, id string, in billow.MigrateCatalogInput) (*billow.Account, error)
	SetContract(ctx context.Context, accountID string, in billow.ContractTerms) (*billow.Contract, error)
	Contract(ctx context.Context, accountRef string) (*billow.Contract, error)
	DeleteContract(ctx context.Context, accountID string) (*billow.Contract, error)

	CreateApp(ctx context.Context, accountID string, in billow.CreateAppInput) (*billow.App, error)
	App(ctx context.Context, accountID, ref string) (*billow.App, error)
	ListApps(ctx context.Context, accountID string, page billow.PageInput) (billow.Page[*billow.App], error)
	UpdateApp(ctx context.Context, accountID, ref string, in billow.UpdateAppInput) (*billow.App, error)

	CreateMember(ctx context.Context, accountID string, in billow.CreateMemberInput) (*billow.Member, error)
	Member(ctx context.Context, accountID, ref string) (*billow.Member, error)
	ListMembers(ctx context.Context, accountID string, role billow.Role, page billow.PageInput) (billow.Page[*billow.Member], error)
	UpdateMember(ctx context.Context, accountID, ref string, in billow.UpdateMemberInput) (*billow.Member, error)
	DeleteMember(ctx context.Context, accountID, ref string) (*billow.Member, error)

	Catalog(ctx context.Context, key string, version int64) (*catalog.Catalog, sqlstore.CatalogVersion, error)
	CatalogVersions(ctx context.Context, key string) ([]sqlstore.CatalogVersion, error)

	Usage(ctx context.Context, in billow.UsageQueryInput) (*billow.UsageResult, error)
	UsageTrends(ctx context.Context, in billow.UsageTrendsInput) (*billow.UsageTrends, error)
	UsageSummary(ctx context.Context, in billow.UsageSummaryInput) (*billow.UsageSummary, error)

	Wallet(ctx context.Context, accountRef string) (*billow.Wallet, error)
	CreateGrant(ctx context.Context, in billow.CreateGrantInput) (*billow.Grant, *billow.Transfer, error)
	Transactions(ctx context.Context, accountRef string, page billow.PageInput) (*billow.Page[*billow.WalletTransaction], error)
	TransactionsBetween(ctx context.Context, accountRef string, from, to time.Time) ([]*billow.WalletTransaction, error)

	CreateHold(ctx context.Context, in billow.CreateHoldInput) (*billow.Hold, *billow.Transfer, error)
	Hold(ctx context.Context, id string) (*billow.Hold, error)
	CaptureHold(ctx context.Context, in billow.CaptureHoldInput) (*billow.Hold, *billow.Transfer, error)
	ReleaseHold(ctx context.Context, id string) (*billow.Hold, *billow.Transfer, error)

	RequestDeployment(ctx context.Context, accountID string, in billow.RequestDeploymentInput) (*billow.Deployment, error)
	Deployment(ctx context.Context, accountID, id string) (*billow.Deployment, error)
	ListDeployments(ctx context.Context, accountID string, f billow.DeploymentFilter, page billow.PageInput) (billow.Page[*billow.Deployment], error)
	ApproveDeployment(ctx context.Context, accountID, id string, in billow.ApproveDeploymentInput) (*billow.Deployment, error)
	RejectDeployment(ctx context.Context, accountID, id string, in billow.RejectDeploymentInput) (*billow.Deployment, error)

	// Billing reads; billing.Service makes every billing change.
	CreateTestClock(ctx context.Context, in billow.CreateTestClockInput) (*billow.TestClock, error)
	TestClock(ctx context.Context, id string) (*billow.TestClock, error)
	LiveSubscription(ctx context.Context, accountID string) (*billow.Subscription, error)
	Subscriptions(ctx context.Context, accountID string) ([]*billow.Subscription, error)
	PaymentMethods(ctx context.Context, accountID string) ([]*billow.PaymentMethod, error)
	Invoice(ctx context.Context, id string) (*billow.Invoice, error)
	Invoices(ctx context.Context, f sqlstore.InvoiceFilter) ([]*billow.Invoice, error)
	Order(ctx context.Context, id string) (*billow.Order, []byte, error)
	Orders(ctx context.Context, accountID string, limit int) ([]*billow.Order, error)
	BillingEvents(ctx context.Context, accountID string, afterSeq int64, limit int) ([]*billow.BillingEvent, error)

	CreatePortalSession(ctx context.Context, accountID string, in billow.CreatePortalSessionInput) (*billow.PortalSession, string, error)
}

// Config wires a Server.
type Config struct {
	Store  Store
	Logger *slog.Logger
	// AdminKey is the bootstrap operator key (BILLOW_ADMIN_KEY); empty for none. Only its
	// hash is kept.
	AdminKey string
	// DefaultCatalog is the catalog key an account gets when it names none.
	DefaultCatalog string
	// Metrics is where the HTTP series are registered and what /metrics serves.
	Metrics *prometheus.Registry
	// Ingester stores usage events for POST /v1/events.
	Ingester Ingester
	// Checker answers POST /v1/checks from memory.
	Checker Checker
	// Billing runs payment methods, orders, subscriptions, invoice payments and test
	// clocks. Without it those operations answer 500 (a wiring fault); reads of stored
	// invoices, orders and subscriptions still work.
	Billing *billing.Service
	// AutoCharge reads and saves accounts' auto-charge settings. Without it those
	// operations answer 500 (a wiring fault).
	AutoCharge AutoCharger
	// Webhooks manages the operator's webhook endpoints and their delivery log. Without it
	// those operations answer 500 (a wiring fault) to the operator, 404 to an account.
	Webhooks Webhooks
	// Notifier queues product emails, previews emails and reads the outbox. Without it
	// those operations answer 500 (a wiring fault).
	Notifier Notifier
	// MailCatcher is the demo's in-process SMTP sink, shown at GET /v1/demo/mail; nil
	// outside the demo.
	MailCatcher MailCatcher
	// Branding is how invoice PDFs look: the operator's name (required), address, logo,
	// accent colour and footer. It is checked once here; an invalid branding is logged
	// and every PDF answers 500 until it is fixed.
	Branding pdf.Branding
	// Portal serves the billing portal under /portal/ (package portal); nil for none.
	Portal http.Handler
	// Admin serves the operator's admin console under /admin/ (package admin); nil for
	// none.
	Admin http.Handler
	// PublicURL is where Billow is reached (BILLOW_PUBLIC_URL): portal links point there.
	// Empty: at the scheme and host each request came to.
	PublicURL string
}

// Server is Billow's HTTP front.
type Server struct {
	store          Store
	logger         *slog.Logger
	adminKeyHash   []byte
	defaultCatalog string
	metrics        *httpMetrics
	ingester       Ingester
	checker        Checker
	billing        *billing.Service
	autoCharge     AutoCharger
	webhooks       Webhooks
	notify         Notifier
	mailCatcher    MailCatcher
	branding       pdf.Branding
	brandingErr    error // why branding cannot print; nil when it can
	publicURL      string
	api            huma.API
	handler        http.Handler
}

// New builds the server and registers every route.
func New(cfg Config) *Server {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Metrics == nil {
		cfg.Metrics = prometheus.NewRegistry()
	}
	s := &Server{store: cfg.Store, logger: cfg.Logger, defaultCatalog: cfg.DefaultCatalog, metrics: newHTTPMetrics(cfg.Metrics),
		ingester: cfg.Ingester, checker: cfg.Checker, billing: cfg.Billing, autoCharge: cfg.AutoCharge, branding: cfg.Branding}
	if err := s.branding.Validate(); err != nil {
		s.brandingErr = err
		if cfg.Billing != nil {
			s.logger.Warn("invoice PDFs cannot be rendered: the branding is invalid", "error", err)
		}
	}
	if cfg.AdminKey != "" {
		sum := sha256.Sum256([]byte(cfg.AdminKey))
		s.adminKeyHash = sum[:]
	}

	mux := http.NewServeMux()
	s.api = humago.New(mux, apiConfig())
	s.webhooks = cfg.Webhooks
	s.registerAPI()
	s.registerWebhooks()
	s.notify, s.mailCatcher = cfg.Notifier, cfg.MailCatcher
	s.registerNotifications()
	s.publicURL = strings.TrimRight(cfg.PublicURL, "/")
	s.registerPortalSessions()
	if cfg.Portal != nil {
		mux.Handle("/portal/", cfg.Portal)
	}
	if cfg.Admin != nil {
		mux.Handle("/admin/", cfg.Admin)
	}
	mux.HandleFunc("GET /healthz", s.healthz)
	mux.Handle("GET /docs", s.docsHandler())
	mux.HandleFunc("GET /readyz", s.readyz)
	mux.Handle("GET /metrics", promhttp.HandlerFor(cfg.Metrics, promhttp.HandlerOpts{}))

	s.handler = s.observe(s.authenticate(s.idempotent(routed(mux))))
	return s
}

// ServeHTTP serves a request.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.handler.ServeHTTP(w, r) }

// OpenAPI returns the API description served at /openapi.json.
func (s *Server) OpenAPI() *huma.OpenAPI { return s.api.OpenAPI() }

func apiConfig() huma.Config {
	cfg := huma.DefaultConfig("Billow API", billow.Version)
	cfg.Info.Description = "Billing, metering, credits and payments for AI-agent and chatbot platforms. " +
		"Send the operator's secret key or an account key as `Authorization: Bearer <key>`. " +
		"Every POST honours `Idempotency-Key`. Errors are RFC 9457 problem details with a stable `code`."
	// The default hooks add a $schema field to every body and a Link header; clients of a
	// billing API want plain resources.
	cfg.CreateHooks = nil
	// /docs is rendered by the server itself (docs.go): huma's page loads scripts from a CDN.
	cfg.DocsPath = ""
	cfg.Components.SecuritySchemes = map[string]*huma.SecurityScheme{
		"bearer": {Type: "http", Scheme: "bearer", Description: "An operator key (sk_…) or an account key (ak_…)."},
	}
	cfg.Security = []map[string][]string{{"bearer": {}}}
	cfg.OnAddOperation = append(cfg.OnAddOperation, documentIdempotencyKey)
	return cfg
}

// documentIdempotencyKey adds the Idempotency-Key header, which a middleware handles, to
// every POST operation's description.
func documentIdempotencyKey(_ *huma.OpenAPI, op *huma.Operation) {
	if op.Method != http.MethodPost {
		return
	}
	op.Parameters = append(op.Parameters, &huma.Param{
		Name: "Idempotency-Key", In: "header",
		Description: "Makes a retry safe: the same key and body return the first answer without a second effect. Kept 24 hours.",
		Schema:      &huma.Schema{Type: "string", MaxLength: ptr(IdempotencyKeyMaxBytes)},
	})
}

func ptr[T any](v T) *T { return &v }

func (s *Server) healthz(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok", "version": billow.Version})
}

// readyz answers 200 when the store answers and every migration is applied.
func (s *Server) readyz(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	if err := s.store.Ping(ctx); err != nil {
		s.logger.WarnContext(ctx, "not ready: store", "error", err)
		writeProblem(w, r, newProblem(http.StatusServiceUnavailable, billow.CodeUnavailable, "the database does not answer"))
		return
	}
	current, err := s.store.MigrationsCurrent(ctx)
	if err != nil || !current {
		writeProblem(w, r, newProblem(http.StatusServiceUnavailable, "migrations_pending", "the database schema is not current; run billow migrate"))
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "ready"})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}
