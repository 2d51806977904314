package webhook

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"time"

	"github.com/billowhq/billow"
	"github.com/billowhq/billow/feed"
)

// Store is what webhooks need of storage. *sqlstore.DB implements it.
type Store interface {
	// feed.Store: the billing events and the fan-out's position in them.
	feed.Store

	// CreateWebhookEndpoint stores a new endpoint (webhook_endpoint_limit).
	CreateWebhookEndpoint(ctx context.Context, e *billow.WebhookEndpoint) error
	// WebhookEndpoint returns an endpoint (not_found).
	WebhookEndpoint(ctx context.Context, id string) (*billow.WebhookEndpoint, error)
	ListWebhookEndpoints(ctx context.Context, page billow.PageInput) (billow.Page[*billow.WebhookEndpoint], error)
	// EnabledWebhookEndpoints returns every enabled endpoint.
	EnabledWebhookEndpoints(ctx context.Context) ([]*billow.WebhookEndpoint, error)
	// UpdateWebhookEndpoint applies a checked input (not_found).
	UpdateWebhookEndpoint(ctx context.Context, id string, in billow.UpdateWebhookEndpointInput, now time.Time) (*billow.WebhookEndpoint, error)
	// RotateWebhookSecret makes secret current, the old one in its grace (not_found).
	RotateWebhookSecret(ctx context.Context, id, secret string, now time.Time) (*billow.WebhookEndpoint, error)
	// DeleteWebhookEndpoint deletes an endpoint with its delivery log (not_found).
	DeleteWebhookEndpoint(ctx context.Context, id string) (*billow.WebhookEndpoint, error)

	// CreateWebhookDeliveries stores deliveries, skipping an (endpoint, event) stored
	// already, and returns how many were new.
	CreateWebhookDeliveries(ctx context.Context, ds []*billow.WebhookDelivery) (int, error)
	// ClaimWebhookDeliveries claims due deliveries of enabled endpoints until now+lease.
	ClaimWebhookDeliveries(ctx context.Context, now time.Time, lease time.Duration, limit int) ([]*billow.WebhookClaim, error)
	// RecordWebhookAttempt records an attempt while its claim holds (concurrent_update).
	RecordWebhookAttempt(ctx context.Context, w billow.WebhookAttemptWrite) error
	// WebhookDeliveries lists an endpoint's deliveries (not_found, validation_failed).
	WebhookDeliveries(ctx context.Context, endpointID string, f billow.WebhookDeliveryFilter, page billow.PageInput) (billow.Page[*billow.WebhookDelivery], error)
	// WebhookDelivery returns a delivery with its latest attempts (not_found).
	WebhookDelivery(ctx context.Context, id string) (*billow.WebhookDeliveryDetail, error)
	// ReplayWebhookDelivery starts a new series of attempts (not_found,
	// webhook_delivery_in_flight, webhook_endpoint_disabled, webhook_replay_limit).
	ReplayWebhookDelivery(ctx context.Context, id string, now time.Time) (*billow.WebhookDelivery, error)
	// PurgeWebhookDeliveries deletes finished deliveries older than before.
	PurgeWebhookDeliveries(ctx context.Context, before time.Time, limit int) (int, error)
}

// Limits and defaults, named with their unit last.
const (
	// RequestTimeout bounds one attempt, from dialling to the end of the body kept.
	RequestTimeout = 15 * time.Second
	// leaseMargin is added to the time a pass may take to send its batch (rounds of
	// RequestTimeout, Workers at a time) to make the lease of its claims: it covers the
	// recording of the attempts, so that only a worker that died loses its claims.
	leaseMargin = 30 * time.Second
	// PollIntervalDefault is how often the worker looks for due deliveries.
	PollIntervalDefault = time.Second
	// FanOutInterval is how often the fan-out job runs (jobs.Periodic).
	FanOutInterval = time.Second
	// BatchDefault and BatchMax bound the deliveries one pass claims.
	BatchDefault = 50
	BatchMax     = 500
	// WorkersDefault and WorkersMax bound the attempts one process has in flight.
	WorkersDefault = 8
	WorkersMax     = 64
	// FanOutEventsMax bounds the events one fan-out step reads: with
	// billow.WebhookEndpointsMax endpoints, at most 5,000 deliveries in one transaction.
	FanOutEventsMax = 100
	// Retention is how long a finished delivery stays in the log.
	Retention = 30 * 24 * time.Hour
	// purgeInterval and purgeBatchMax pace the retention purge.
	purgeInterval = time.Hour
	purgeBatchMax = 1000
	// errorMaxBytes bounds the error text kept with an attempt.
	errorMaxBytes = 500
	// UserAgent names Billow to receivers.
	UserAgent = "Billow-Webhooks/1"
)

// FeedConsumer is the fan-out's position in the billing events (feed.Follower.Name).
const FeedConsumer = "webhooks"

// Config wires a Service.
type Config struct {
	Store  Store
	Clock  billow.Clock
	Logger *slog.Logger
	// AllowHTTP accepts http:// endpoint URLs (--webhooks-allow-http): for development,
	// the demo and tests. Otherwise an endpoint must be https.
	AllowHTTP bool
	// AllowPrivateNetworks accepts endpoints on loopback, private, link-local and other
	// non-public addresses (--webhooks-allow-private-networks). Otherwise they are refused
	// when the endpoint is saved (an address literal, localhost) and when the worker
	// dials (whatever the name resolves to), so that an API key cannot make Billow probe
	// the network it runs in.
	AllowPrivateNetworks bool
	// Batch is how many deliveries one pass claims; BatchDefault when zero.
	Batch int
	// Workers is how many attempts run at once; WorkersDefault when zero.
	Workers int
	// PollInterval is how often Run looks for due deliveries; PollIntervalDefault when zero.
	PollInterval time.Duration
	// Transport replaces the HTTP transport of the worker, for tests; nil for the
	// default one, which refuses non-public addresses unless AllowPrivateNetworks.
	Transport http.RoundTripper
}

// Service manages endpoints, fans billing events out to them and delivers.
type Service struct {
	store        Store
	clock        billow.Clock
	logger       *slog.Logger
	allowHTTP    bool
	allowPrivate bool
	batch        int
	workers      int
	pollInterval time.Duration
	lease        time.Duration // how long a pass's claims are its own
	client       *http.Client
	follower     *feed.Follower
}

// New returns a service.
func New(cfg Config) (*Service, error) {
	if cfg.Store == nil {
		return nil, errors.New("webhook: no store")
	}
	if cfg.Clock == nil {
		cfg.Clock = billow.SystemClock{}
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Batch == 0 {
		cfg.Batch = BatchDefault
	}
	if cfg.Workers == 0 {
		cfg.Workers = WorkersDefault
	}
	if cfg.PollInterval == 0 {
		cfg.PollInterval = PollIntervalDefault
	}
	switch {
	case cfg.Batch < 1 || cfg.Batch > BatchMax:
		return nil, fmt.Errorf("webhook: batch of %d, outside 1 to %d", cfg.Batch, BatchMax)
	case cfg.Workers < 1 || cfg.Workers > WorkersMax:
		return nil, fmt.Errorf("webhook: %d workers, outside 1 to %d", cfg.Workers, WorkersMax)
	case cfg.PollInterval < 10*time.Millisecond || cfg.PollInterval > time.Minute:
		return nil, fmt.Errorf("webhook: poll interval %s, outside 10ms to 1m", cfg.PollInterval)
	}
	transport := cfg.Transport
	if transport == nil {
		transport = newTransport(cfg.AllowPrivateNetworks)
	}
	s := &Service{store: cfg.Store, clock: cfg.Clock, logger: cfg.Logger.With(slog.String("component", "webhooks")),
		allowHTTP: cfg.AllowHTTP, allowPrivate: cfg.AllowPrivateNetworks, batch: cfg.Batch, workers: cfg.Workers,
		pollInterval: cfg.PollInterval, lease: Lease(cfg.Batch, cfg.Workers),
		client: &http.Client{Transport: transport, Timeout: RequestTimeout,
			// A redirect is an answer like any other non-2xx: following it would send the
			// signed message somewhere the operator never registered.
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }},
	}
	s.follower = &feed.Follower{Store: cfg.Store, Name: FeedConsumer, Handle: s.Handle, BatchMax: FanOutEventsMax}
	return s, nil
}

// Lease returns how long a pass of batch deliveries, workers at a time, holds its
// claims: long enough to send the whole batch at its slowest, every attempt taking
// RequestTimeout, and to record the attempts. With the defaults, 2 min 15 s.
func Lease(batch, workers int) time.Duration {
	rounds := (batch + workers - 1) / workers
	return time.Duration(rounds)*RequestTimeout + leaseMargin
}

// CreateEndpoint registers an endpoint and returns it with its signing secret, the only
// time the secret is shown.
//
// Errors: validation_failed, webhook_endpoint_limit.
func (s *Service) CreateEndpoint(ctx context.Context, in billow.CreateWebhookEndpointInput) (*billow.CreatedWebhookEndpoint, error) {
	in.Normalize()
	if err := in.Validate(); err != nil {
		return nil, err
	}
	if err := s.checkURL(in.URL); err != nil {
		return nil, err
	}
	now := s.now()
	e := &billow.WebhookEndpoint{ID: billow.NewID(billow.PrefixWebhookEndpoint, now), URL: in.URL, Description: in.Description,
		EventTypes: in.EventTypes, Enabled: in.Enabled == nil || *in.Enabled, Secret: NewSecret(), CreatedAt: now, UpdatedAt: now}
	if err := s.store.CreateWebhookEndpoint(ctx, e); err != nil {
		return nil, err
	}
	return &billow.CreatedWebhookEndpoint{WebhookEndpoint: e, Secret: e.Secret}, nil
}

// Endpoint returns an endpoint, without its secret.
//
// Errors: not_found.
func (s *Service) Endpoint(ctx context.Context, id string) (*billow.WebhookEndpoint, error) {
	return s.store.WebhookEndpoint(ctx, id)
}

// ListEndpoints lists the endpoints, newest first.
func (s *Service) ListEndpoints(ctx context.Context, page billow.PageInput) (billow.Page[*billow.WebhookEndpoint], error) {
	return s.store.ListWebhookEndpoints(ctx, page)
}

// UpdateEndpoint changes the fields the input names.
//
// Errors: validation_failed, not_found.
func (s *Service) UpdateEndpoint(ctx context.Context, id string, in billow.UpdateWebhookEndpointInput) (*billow.WebhookEndpoint, error) {
	in.Normalize()
	if err := in.Validate(); err != nil {
		return nil, err
	}
	if in.URL != nil {
		if err := s.checkURL(*in.URL); err != nil {
			return nil, err
		}
	}
	return s.store.UpdateWebhookEndpoint(ctx, id, in, s.now())
}

// DeleteEndpoint deletes an endpoint with its delivery log and returns it.
//
// Errors: not_found.
func (s *Service) DeleteEndpoint(ctx context.Context, id string) (*billow.WebhookEndpoint, error) {
	return s.store.DeleteWebhookEndpoint(ctx, id)
}

// RotateSecret gives the endpoint a new secret and returns it, shown this once. For
// billow.WebhookSecretGrace messages carry signatures by both secrets.
//
// Errors: not_found.
func (s *Service) RotateSecret(ctx context.Context, id string) (*billow.CreatedWebhookEndpoint, error) {
	secret := NewSecret()
	e, err := s.store.RotateWebhookSecret(ctx, id, secret, s.now())
	if err != nil {
		return nil, err
	}
	return &billow.CreatedWebhookEndpoint{WebhookEndpoint: e, Secret: secret}, nil
}

// SendTest queues a webhook.test message to the endpoint, due at once, and returns its
// delivery; the worker sends it like any other, retries included.
//
// Errors: not_found, webhook_endpoint_disabled.
func (s *Service) SendTest(ctx context.Context, id string) (*billow.WebhookDelivery, error) {
	e, err := s.store.WebhookEndpoint(ctx, id)
	if err != nil {
		return nil, err
	}
	if !e.Enabled {
		return nil, billow.Errorf(billow.KindConflict, billow.CodeWebhookEndpointDisabled, "webhook endpoint %s is disabled; enable it first", e.ID)
	}
	now := s.now()
	ev := &billow.BillingEvent{ID: billow.NewID(billow.PrefixBillingEvent, now), Type: billow.WebhookEventTest, Subject: e.ID, OccurredAt: now,
		Data: map[string]any{"endpoint": e.ID, "message": "A test message from Billow: the endpoint receives and verifies webhooks."}}
	d, err := newDelivery(e, ev, now)
	if err != nil {
		return nil, err
	}
	if _, err := s.store.CreateWebhookDeliveries(ctx, []*billow.WebhookDelivery{d}); err != nil {
		return nil, err
	}
	return d, nil
}

// Deliveries lists an endpoint's deliveries, newest first.
//
// Errors: not_found, validation_failed.
func (s *Service) Deliveries(ctx context.Context, endpointID string, f billow.WebhookDeliveryFilter, page billow.PageInput) (billow.Page[*billow.WebhookDelivery], error) {
	return s.store.WebhookDeliveries(ctx, endpointID, f, page)
}

// Delivery returns a delivery with its latest attempts.
//
// Errors: not_found.
func (s *Service) Delivery(ctx context.Context, id string) (*billow.WebhookDeliveryDetail, error) {
	return s.store.WebhookDelivery(ctx, id)
}

// Replay queues a delivery again, due now: a new series of attempts with the same
// webhook-id and body.
//
// Errors: not_found, webhook_delivery_in_flight, webhook_endpoint_disabled,
// webhook_replay_limit.
func (s *Service) Replay(ctx context.Context, id string) (*billow.WebhookDelivery, error) {
	return s.store.ReplayWebhookDelivery(ctx, id, s.now())
}

// checkURL applies the server's policy to a valid URL: https unless AllowHTTP, and no
// address that is plainly not public unless AllowPrivateNetworks. Names are resolved
// only when dialling (dial.go), where the answer cannot change between check and use.
func (s *Service) checkURL(raw string) error {
	u, err := url.Parse(raw)
	if err != nil {
		return billow.FieldErrorf(billow.CodeValidationFailed, "url", "is not a URL")
	}
	if u.Scheme == "http" && !s.allowHTTP {
		return billow.FieldErrorf(billow.CodeValidationFailed, "url", "must be https: this server does not send webhooks over plain http")
	}
	if !s.allowPrivate && !publicHost(u.Hostname()) {
		return billow.FieldErrorf(billow.CodeValidationFailed, "url",
			"must be a public address: this server does not send webhooks to loopback, private or link-local addresses")
	}
	return nil
}

// now reads the clock at the precision the store keeps, so that an answer given at
// creation equals a later read.
func (s *Service) now() time.Time { return s.clock.Now().Truncate(time.Microsecond) }
