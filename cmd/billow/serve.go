package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/billowhq/billow"
	"github.com/billowhq/billow/admin"
	"github.com/billowhq/billow/autocharge"
	"github.com/billowhq/billow/billing"
	"github.com/billowhq/billow/charging"
	"github.com/billowhq/billow/checks"
	"github.com/billowhq/billow/credits"
	"github.com/billowhq/billow/demo"
	"github.com/billowhq/billow/emails"
	billowhttp "github.com/billowhq/billow/http"
	"github.com/billowhq/billow/ingest"
	"github.com/billowhq/billow/jobs"
	"github.com/billowhq/billow/notify"
	"github.com/billowhq/billow/payment/sandbox"
	"github.com/billowhq/billow/pdf"
	"github.com/billowhq/billow/portal"
	"github.com/billowhq/billow/smtp"
	"github.com/billowhq/billow/sqlstore"
	"github.com/billowhq/billow/webhook"
)

// Limits of the server, named with their unit last.
const (
	readHeaderTimeout        = 10 * time.Second
	readTimeout              = 60 * time.Second
	writeTimeout             = 60 * time.Second
	idleTimeout              = 120 * time.Second
	headerMaxBytes           = 64 << 10
	idempotencyPurgeInterval = 10 * time.Minute
	idempotencyPurgeBatchMax = 10_000
)

type serveCmd struct {
	storeFlags
	Listen          string        `default:"127.0.0.1:8080" env:"BILLOW_LISTEN" help:"Address to listen on."`
	Catalog         []string      `env:"BILLOW_CATALOG" sep:"," help:"Catalog files: PATH, KEY=PATH or example:NAME; repeatable. The first is the default. None: the shipped examples."`
	Demo            bool          `env:"BILLOW_DEMO" help:"Load the demo operator key, accounts, apps, members and usage."`
	DemoUsageDays   int           `default:"90" env:"BILLOW_DEMO_USAGE_DAYS" help:"Days of usage history the demo generates for each account; 0 for none."`
	AdminKey        string        `env:"BILLOW_ADMIN_KEY" help:"The operator's secret key (bootstrap). Prefer the environment variable: flags show in process lists."`
	PublicURL       string        `env:"BILLOW_PUBLIC_URL" help:"The address links in emails and portal sessions point to."`
	ShutdownTimeout time.Duration `default:"30s" env:"BILLOW_SHUTDOWN_TIMEOUT" help:"How long in-flight requests may finish after SIGINT or SIGTERM."`
	// ChecksPollInterval bounds how far behind the store the answers of POST /v1/checks may be.
	ChecksPollInterval time.Duration `default:"500ms" env:"BILLOW_CHECKS_POLL_INTERVAL" help:"How often real-time checks look for changes made by this and other processes."`
	// The operator's branding on invoice PDFs.
	BrandName    string   `default:"Billow demo operator" env:"BILLOW_BRAND_NAME" help:"The operator's name on invoices."`
	BrandAddress []string `env:"BILLOW_BRAND_ADDRESS" sep:"|" help:"Address lines on invoices, separated by | in the environment variable."`
	BrandEmail   string   `env:"BILLOW_BRAND_EMAIL" help:"The billing contact shown on invoices."`
	BrandWebsite string   `env:"BILLOW_BRAND_WEBSITE" help:"The website shown on invoices."`
	BrandColor   string   `default:"#1f6feb" env:"BILLOW_BRAND_COLOR" help:"The accent colour of invoices, #rrggbb."`
	BrandLogo    string   `env:"BILLOW_BRAND_LOGO" type:"existingfile" help:"A PNG logo for invoices."`
	// Outbound webhooks (docs/webhooks.md): both are on with --demo.
	WebhooksAllowHTTP            bool `env:"BILLOW_WEBHOOKS_ALLOW_HTTP" help:"Accept http:// webhook endpoints, not only https (development)."`
	WebhooksAllowPrivateNetworks bool `env:"BILLOW_WEBHOOKS_ALLOW_PRIVATE_NETWORKS" help:"Send webhooks to loopback, private and link-local addresses (development, or receivers inside your network)."`
	// Emails (docs/notifications.md). Without an SMTP URL they are queued, not sent; with
	// --demo and none, an in-process mail catcher receives them.
	BrandLogoURL    string `env:"BILLOW_BRAND_LOGO_URL" help:"Absolute http(s) URL of the logo image emails show; none: the brand's name."`
	SMTPURL         string `name:"smtp-url" env:"BILLOW_SMTP_URL" help:"Where mail goes: smtp://user:pass@host:port (STARTTLS when offered, ?tls=required to insist) or smtps://… (TLS). Prefer the environment variable: flags show in process lists."`
	EmailFrom       string `name:"email-from" env:"BILLOW_EMAIL_FROM" help:"The From of emails, e.g. \"Acme Billing <billing@acme.example>\"; default the brand's email."`
	EmailTemplates  string `name:"email-templates" env:"BILLOW_EMAIL_TEMPLATES" type:"existingdir" help:"A directory of email templates overriding the built-in ones."`
	WireBeneficiary string `name:"wire-beneficiary" env:"BILLOW_WIRE_BENEFICIARY" help:"Wire transfer instructions: the account holder."`
	WireIBAN        string `name:"wire-iban" env:"BILLOW_WIRE_IBAN" help:"Wire transfer instructions: the IBAN."`
	WireBIC         string `name:"wire-bic" env:"BILLOW_WIRE_BIC" help:"Wire transfer instructions: the BIC (SWIFT code)."`
	WireBank        string `name:"wire-bank" env:"BILLOW_WIRE_BANK" help:"Wire transfer instructions: the bank's name."`
	WireClearance   string `name:"wire-clearance" env:"BILLOW_WIRE_CLEARANCE" default:"4–8 business days" help:"Wire transfer instructions: how long a transfer takes to clear."`
}

// branding reads the operator's branding from the flags.
func (s *serveCmd) branding() (pdf.Branding, error) {
	b := pdf.Branding{Name: s.BrandName, AddressLines: s.BrandAddress, Email: s.BrandEmail, Website: s.BrandWebsite, AccentColor: s.BrandColor}
	if s.BrandLogo != "" {
		logo, err := os.ReadFile(s.BrandLogo)
		if err != nil {
			return b, fmt.Errorf("brand logo: %w", err)
		}
		b.LogoPNG = logo
	}
	if err := b.Validate(); err != nil {
		return b, fmt.Errorf("branding: %w", err)
	}
	return b, nil
}

func (s *serveCmd) Run(env *runEnv) error {
	db, err := openStore(env, s.storeFlags)
	if err != nil {
		return err
	}
	defer db.Close()
	env.logger.Info("store open", slog.Group("store", "dialect", db.Dialect(), "where", db.Where()))

	branding, err := s.branding()
	if err != nil {
		return err
	}
	sources, err := readCatalogs(s.Catalog)
	if err != nil {
		return err
	}
	for _, src := range sources {
		v, _, err := db.SyncCatalog(env.ctx, src.key, src.data)
		if err != nil {
			return fmt.Errorf("catalog %s (%s): %w", src.key, src.origin, err)
		}
		env.logger.Info("catalog loaded", slog.Group("catalog", "key", v.Catalog, "version", v.Version, "name", v.Name, "from", src.origin))
	}

	listener, err := net.Listen("tcp", s.Listen)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", s.Listen, err)
	}
	baseURL := "http://" + listener.Addr().String()
	operatorKey := "(from BILLOW_ADMIN_KEY)"
	charger, err := charging.New(charging.Config{Store: db, Clock: billow.SystemClock{}, Logger: env.logger})
	if err != nil {
		listener.Close()
		return err
	}
	// Ingest tells the charger which accounts got usage, so prepaid wallets are debited
	// within about a second.
	ingester := ingest.New(db, billow.SystemClock{}, ingest.OnStored(charger.AccountsChanged))
	// The sandbox gateway is the only one built in so far: the demo and tests pay with
	// its test cards (docs/payments.md).
	gateway := sandbox.New(billow.SystemClock{})
	if s.Demo {
		var extensions []demo.Extension
		if s.DemoUsageDays > 0 {
			extensions = append(extensions, demo.Usage(ingester, billow.SystemClock{}, env.logger, s.DemoUsageDays))
		}
		// After the usage, so that the history's invoices bill the postpaid usage.
		extensions = append(extensions, demo.Billing(db, gateway, billow.SystemClock{}, env.logger))
		if _, err := demo.Load(env.ctx, db, env.logger, extensions...); err != nil {
			listener.Close()
			return err
		}
		if s.AdminKey == "" {
			_, secret, err := db.CreateAPIKey(env.ctx, "demo operator", "")
			if err != nil {
				listener.Close()
				return err
			}
			operatorKey = secret
		}
	} else if s.AdminKey == "" {
		env.logger.Warn("no BILLOW_ADMIN_KEY: only keys made with `billow keys create` can call the API")
	}

	registry := prometheus.NewRegistry()
	registry.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	checker := checks.New(checks.Config{Store: db, Clock: billow.SystemClock{}, Logger: env.logger, PollInterval: s.ChecksPollInterval})
	billingSvc, err := billing.New(billing.Config{Store: db, Gateway: gateway, Clock: billow.SystemClock{}, Logger: env.logger})
	if err != nil {
		listener.Close()
		return err
	}
	// Auto-charge and the low-balance notices: a pass over the accounts with a threshold
	// every few seconds, as a periodic job, so that one process runs it at a time.
	autoCharge, err := autocharge.New(autocharge.Config{Store: db, Billing: billingSvc, Clock: billow.SystemClock{}, Logger: env.logger})
	if err != nil {
		listener.Close()
		return err
	}
	// Outbound webhooks: the fan-out of billing events to the endpoints runs as a periodic
	// job; every process runs a delivery worker, whose leases keep two from sending the
	// same message at once.
	webhooks, err := webhook.New(webhook.Config{Store: db, Clock: billow.SystemClock{}, Logger: env.logger,
		AllowHTTP: s.WebhooksAllowHTTP || s.Demo, AllowPrivateNetworks: s.WebhooksAllowPrivateNetworks || s.Demo})
	if err != nil {
		listener.Close()
		return err
	}
	// Emails: billing events become messages in a periodic job; every process runs a
	// delivery worker, whose leases keep two from sending the same message at once.
	publicURL := s.PublicURL
	if publicURL == "" {
		publicURL = baseURL
	}
	notifier, catcher, err := s.emails(env, db, branding, publicURL)
	if err != nil {
		listener.Close()
		return err
	}
	if catcher != nil {
		defer catcher.Stop()
	}
	if err := notifier.StartFeed(env.ctx); err != nil {
		listener.Close()
		return err
	}
	emailFeed := notifier.Follower()
	// The billing portal (docs/portal.md); a periodic job purges its spent sessions.
	portalHandler, err := portal.New(portal.Config{Store: db, Billing: billingSvc, AutoCharge: autoCharge, Clock: billow.SystemClock{}, Logger: env.logger,
		Branding: branding, PublicURL: s.PublicURL})
	if err != nil {
		listener.Close()
		return err
	}
	// The operator's admin console (docs/admin.md); --demo adds a demo operator, so that
	// it is usable at once. A periodic job purges its spent sessions.
	adminHandler, err := admin.New(admin.Config{Store: db, Billing: billingSvc, MailCatcher: mailCatcher(catcher), Clock: billow.SystemClock{},
		Logger: env.logger, Branding: branding, PublicURL: s.PublicURL})
	if err != nil {
		listener.Close()
		return err
	}
	var demoOperator *admin.Enrollment
	if s.Demo {
		if demoOperator, err = admin.EnsureDemoOperator(env.ctx, db); err != nil {
			listener.Close()
			return err
		}
	}
	// Renewals, trial ends, retries and suspensions run on the job queue: the leader queues
	// a sweep, and the process that takes it runs the invoice run (billing's RunDue).
	runner, err := jobs.New(jobs.Config{Store: db, Advancer: billingSvc, Clock: billow.SystemClock{}, Logger: env.logger,
		Periodic: []jobs.Periodic{
			{Name: "auto_charge", Interval: autocharge.IntervalDefault, Run: autoCharge.Run},
			{Name: "portal_sessions_purge", Interval: portal.PurgeInterval, Run: portalHandler.Purge},
			{Name: "admin_sessions_purge", Interval: admin.PurgeInterval, Run: adminHandler.Purge},
			{Name: "webhooks_fan_out", Interval: webhook.FanOutInterval, Run: webhooks.FanOut},
			{Name: "emails_fan_out", Interval: notify.FanOutInterval, Run: func(ctx context.Context, _ time.Time) error {
				_, err := emailFeed.Run(ctx)
				return err
			}},
			{Name: "reconcile_orders", Interval: billing.ReconcileAfter, Run: func(ctx context.Context, now time.Time) error {
				_, err := billingSvc.ReconcileOrders(ctx, now)
				return err
			}},
		}})
	if err != nil {
		listener.Close()
		return err
	}
	handler := billowhttp.New(billowhttp.Config{
		Store: db, Logger: env.logger, AdminKey: s.AdminKey, DefaultCatalog: sources[0].key, Metrics: registry,
		Ingester: ingester, Checker: checker, Billing: billingSvc, AutoCharge: autoCharge, Branding: branding,
		Webhooks: webhooks, Notifier: notifier, MailCatcher: mailCatcher(catcher),
		Portal: portalHandler, Admin: adminHandler, PublicURL: s.PublicURL,
	})
	srv := &http.Server{
		Handler: handler, ReadHeaderTimeout: readHeaderTimeout, ReadTimeout: readTimeout, WriteTimeout: writeTimeout,
		IdleTimeout: idleTimeout, MaxHeaderBytes: headerMaxBytes, ErrorLog: slog.NewLogLogger(env.logger.Handler(), slog.LevelWarn),
	}

	workers, stopWorkers := context.WithCancel(context.WithoutCancel(env.ctx))
	var wg sync.WaitGroup
	wg.Go(func() { purgeIdempotencyKeys(workers, db, env.logger) })
	wg.Go(func() { checker.Run(workers) })
	wg.Go(func() { charger.Run(workers) })
	wg.Go(func() { credits.NewKeeper(db, billow.SystemClock{}, env.logger, 0).Run(workers) })
	wg.Go(func() { webhooks.Run(workers) })
	wg.Go(func() { notifier.Run(workers) })
	if err := runner.Start(workers); err != nil {
		stopWorkers()
		wg.Wait()
		listener.Close()
		return fmt.Errorf("start the job queue: %w", err)
	}

	serveErr := make(chan error, 1)
	go func() { serveErr <- srv.Serve(listener) }()
	env.logger.Info("billow ready", "url", baseURL, "version", billow.Version)
	if s.Demo {
		fmt.Fprintf(env.stdout, "\nBillow demo is ready at %s\n  operator key: %s\n  try: curl -H 'Authorization: Bearer %s' %s/v1/accounts\n\n",
			baseURL, operatorKey, operatorKey, baseURL)
		if demoOperator != nil {
			fmt.Fprintf(env.stdout, "Admin console at %s/admin/ (demo only):\n  email: %s\n  password: %s\n  TOTP secret: %s\n  %s\n\n",
				baseURL, demoOperator.User.Email, admin.DemoOperatorPassword, demoOperator.TOTPSecret, demoOperator.TOTPURL)
		}
	}

	select {
	case err = <-serveErr:
		// The listener failed before any signal.
	case <-env.ctx.Done():
		env.logger.Info("shutting down: draining in-flight requests", "timeout", s.ShutdownTimeout)
		ctx, cancel := context.WithTimeout(context.Background(), s.ShutdownTimeout)
		err = srv.Shutdown(ctx)
		cancel()
	}
	stopCtx, cancelStop := context.WithTimeout(context.Background(), s.ShutdownTimeout)
	if stopErr := runner.Stop(stopCtx); stopErr != nil {
		env.logger.Error("stop the job queue", "error", stopErr)
	}
	cancelStop()
	stopWorkers()
	wg.Wait()
	if errors.Is(err, http.ErrServerClosed) {
		err = nil
	}
	env.logger.Info("stopped")
	return err
}

// purgeIdempotencyKeys deletes expired idempotency keys until ctx ends.
func purgeIdempotencyKeys(ctx context.Context, db *sqlstore.DB, logger *slog.Logger) {
	ticker := time.NewTicker(idempotencyPurgeInterval)
	defer ticker.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-ticker.C:
			n, err := db.PurgeIdempotencyKeys(ctx, idempotencyPurgeBatchMax)
			if err != nil && ctx.Err() == nil {
				logger.Error("purge idempotency keys", "error", err)
			} else if n > 0 {
				logger.Info("idempotency keys purged", "count", n)
			}
		}
	}
}

// emails builds the email service: the templates, where mail goes, the brand. With no
// SMTP URL, --demo starts an in-process mail catcher (returned, to be stopped) and mail
// goes to it; otherwise messages stay queued, and a warning says so once.
func (s *serveCmd) emails(env *runEnv, db *sqlstore.DB, branding pdf.Branding, publicURL string) (*notify.Service, *smtp.Sink, error) {
	renderer, err := emails.NewRenderer(s.EmailTemplates)
	if err != nil {
		return nil, nil, fmt.Errorf("email templates: %w", err)
	}
	var sender notify.Sender
	var catcher *smtp.Sink
	switch {
	case s.SMTPURL != "":
		smtpSender, err := smtp.New(smtp.Config{URL: s.SMTPURL})
		if err != nil {
			return nil, nil, fmt.Errorf("BILLOW_SMTP_URL: %w", err)
		}
		sender = smtpSender
		env.logger.Info("emails go to an SMTP server", "smtp", smtpSender.Where())
	case s.Demo:
		catcher = smtp.NewSink(billow.SystemClock{}, smtp.SinkKeepDefault)
		if err := catcher.Start("127.0.0.1:0"); err != nil {
			return nil, nil, err
		}
		catcherSender, err := smtp.New(smtp.Config{URL: catcher.URL()})
		if err != nil {
			catcher.Stop()
			return nil, nil, err
		}
		sender = catcherSender
		env.logger.Info("demo mail catcher: emails are delivered to an SMTP server in this process; GET /v1/demo/mail shows them",
			"smtp", catcher.Addr())
	default:
		env.logger.Warn("no BILLOW_SMTP_URL: emails are queued and not sent until it is set")
	}
	notifier, err := notify.New(notify.Config{Store: db, Renderer: renderer, Sender: sender, Clock: billow.SystemClock{}, Logger: env.logger,
		Brand: emails.Brand{Name: s.BrandName, Email: s.BrandEmail, Website: s.BrandWebsite, AccentColor: s.BrandColor,
			LogoURL: s.BrandLogoURL, Address: s.BrandAddress},
		From: s.EmailFrom, PublicURL: publicURL, InvoiceBranding: branding,
		Wire: notify.Wire{Beneficiary: s.WireBeneficiary, IBAN: s.WireIBAN, BIC: s.WireBIC, Bank: s.WireBank, Clearance: s.WireClearance}})
	if err != nil {
		if catcher != nil {
			catcher.Stop()
		}
		return nil, nil, err
	}
	return notifier, catcher, nil
}

// mailCatcher is the catcher as the HTTP server takes it: nil, not a nil *smtp.Sink,
// when there is none.
func mailCatcher(c *smtp.Sink) billowhttp.MailCatcher {
	if c == nil {
		return nil
	}
	return c
}
