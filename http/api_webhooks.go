package http

import (
	"context"
	"errors"
	"net/http"

	"github.com/billowhq/billow"
)

// Webhooks manages the operator's webhook endpoints and their delivery log.
// *webhook.Service implements it.
type Webhooks interface {
	// CreateEndpoint registers an endpoint and returns its secret, shown once
	// (validation_failed, webhook_endpoint_limit).
	CreateEndpoint(ctx context.Context, in billow.CreateWebhookEndpointInput) (*billow.CreatedWebhookEndpoint, error)
	Endpoint(ctx context.Context, id string) (*billow.WebhookEndpoint, error)
	ListEndpoints(ctx context.Context, page billow.PageInput) (billow.Page[*billow.WebhookEndpoint], error)
	// UpdateEndpoint changes the named fields (validation_failed, not_found).
	UpdateEndpoint(ctx context.Context, id string, in billow.UpdateWebhookEndpointInput) (*billow.WebhookEndpoint, error)
	DeleteEndpoint(ctx context.Context, id string) (*billow.WebhookEndpoint, error)
	// RotateSecret gives the endpoint a new secret, shown once (not_found).
	RotateSecret(ctx context.Context, id string) (*billow.CreatedWebhookEndpoint, error)
	// SendTest queues a webhook.test message (not_found, webhook_endpoint_disabled).
	SendTest(ctx context.Context, id string) (*billow.WebhookDelivery, error)
	Deliveries(ctx context.Context, endpointID string, f billow.WebhookDeliveryFilter, page billow.PageInput) (billow.Page[*billow.WebhookDelivery], error)
	Delivery(ctx context.Context, id string) (*billow.WebhookDeliveryDetail, error)
	// Replay queues a delivery again now (not_found, webhook_delivery_in_flight,
	// webhook_endpoint_disabled, webhook_replay_limit).
	Replay(ctx context.Context, id string) (*billow.WebhookDelivery, error)
}

// webhookService returns the webhook service, or an internal error when serve did not
// wire one (a fault of the wiring, logged, never a client's). Every webhook route is the
// operator's alone: an account's key is answered 404 before anything else, as on every
// operator-only route (DESIGN principle 7).
func (s *Server) webhookService(ctx context.Context) (Webhooks, error) {
	if err := requireOperator(ctx); err != nil {
		return nil, err
	}
	if s.webhooks == nil {
		return nil, errors.New("http: no webhook service configured")
	}
	return s.webhooks, nil
}

// WebhookEndpointPath names an endpoint in a path.
type WebhookEndpointPath struct {
	Endpoint string `path:"endpoint" maxLength:"64" doc:"Endpoint id (we_…)."`
}

// WebhookDeliveryPath names a delivery in a path.
type WebhookDeliveryPath struct {
	Delivery string `path:"delivery" maxLength:"64" doc:"Delivery id (msg_…), the webhook-id of its message."`
}

func (s *Server) registerWebhooks() {
	const tag = "Webhooks"
	type endpointOut struct{ Body *billow.WebhookEndpoint }
	type createdOut struct{ Body billow.CreatedWebhookEndpoint }
	type deliveryOut struct{ Body *billow.WebhookDelivery }

	type createIn struct {
		Body billow.CreateWebhookEndpointInput
	}
	register(s, operation("createWebhookEndpoint", http.MethodPost, "/v1/webhook_endpoints", "Create a webhook endpoint", tag,
		"Registers an endpoint that receives the billing events its event_types select (operator only): types such as "+
			"invoice.paid, prefix wildcards such as invoice.*, or * (the default) for all. Messages are signed as Standard "+
			"Webhooks says, with the secret in the answer: it is shown this once. The URL must be https, and public, unless "+
			"the server allows otherwise. At most 50 endpoints (409 webhook_endpoint_limit). See docs/webhooks.md."),
		func(ctx context.Context, in *createIn) (*createdOut, error) {
			wh, err := s.webhookService(ctx)
			if err != nil {
				return nil, err
			}
			e, err := wh.CreateEndpoint(ctx, in.Body)
			if err != nil {
				return nil, err
			}
			return &createdOut{Body: *e}, nil
		})

	type listIn struct{ PageParams }
	type listOut struct {
		Body billow.Page[*billow.WebhookEndpoint]
	}
	register(s, operation("listWebhookEndpoints", http.MethodGet, "/v1/webhook_endpoints", "List webhook endpoints", tag,
		"Lists the endpoints, newest first, without their secrets (operator only)."),
		func(ctx context.Context, in *listIn) (*listOut, error) {
			wh, err := s.webhookService(ctx)
			if err != nil {
				return nil, err
			}
			page, err := wh.ListEndpoints(ctx, in.input())
			if err != nil {
				return nil, err
			}
			return &listOut{Body: page}, nil
		})

	type getIn struct{ WebhookEndpointPath }
	register(s, operation("getWebhookEndpoint", http.MethodGet, "/v1/webhook_endpoints/{endpoint}", "Get a webhook endpoint", tag,
		"Returns an endpoint without its secret (operator only): its filter, whether it is enabled, why Billow disabled it "+
			"(disabled_reason gone or failing) and since when its attempts fail."),
		func(ctx context.Context, in *getIn) (*endpointOut, error) {
			wh, err := s.webhookService(ctx)
			if err != nil {
				return nil, err
			}
			e, err := wh.Endpoint(ctx, in.Endpoint)
			if err != nil {
				return nil, err
			}
			return &endpointOut{Body: e}, nil
		})

	type updateIn struct {
		WebhookEndpointPath
		Body billow.UpdateWebhookEndpointInput
	}
	register(s, operation("updateWebhookEndpoint", http.MethodPatch, "/v1/webhook_endpoints/{endpoint}", "Update a webhook endpoint", tag,
		"Changes the fields given (operator only). enabled true turns on an endpoint Billow disabled, and the deliveries it "+
			"left pending resume; events written while it was disabled are not sent."),
		func(ctx context.Context, in *updateIn) (*endpointOut, error) {
			wh, err := s.webhookService(ctx)
			if err != nil {
				return nil, err
			}
			e, err := wh.UpdateEndpoint(ctx, in.Endpoint, in.Body)
			if err != nil {
				return nil, err
			}
			return &endpointOut{Body: e}, nil
		})

	register(s, operation("deleteWebhookEndpoint", http.MethodDelete, "/v1/webhook_endpoints/{endpoint}", "Delete a webhook endpoint", tag,
		"Deletes an endpoint with its delivery log and returns it (operator only); nothing more is sent to it."),
		func(ctx context.Context, in *getIn) (*endpointOut, error) {
			wh, err := s.webhookService(ctx)
			if err != nil {
				return nil, err
			}
			e, err := wh.DeleteEndpoint(ctx, in.Endpoint)
			if err != nil {
				return nil, err
			}
			return &endpointOut{Body: e}, nil
		})

	register(s, withStatus(http.StatusOK, operation("rotateWebhookSecret", http.MethodPost, "/v1/webhook_endpoints/{endpoint}/rotate_secret",
		"Rotate a webhook endpoint's secret", tag,
		"Gives the endpoint a new signing secret, in the answer this once (operator only). For 24 hours messages carry two "+
			"signatures, by the new secret and the old, so the receiver can switch at any moment of that day.")),
		func(ctx context.Context, in *getIn) (*createdOut, error) {
			wh, err := s.webhookService(ctx)
			if err != nil {
				return nil, err
			}
			e, err := wh.RotateSecret(ctx, in.Endpoint)
			if err != nil {
				return nil, err
			}
			return &createdOut{Body: *e}, nil
		})

	register(s, operation("testWebhookEndpoint", http.MethodPost, "/v1/webhook_endpoints/{endpoint}/test", "Send a test message", tag,
		"Queues a webhook.test message to the endpoint, sent within a second or so and retried like any other (operator "+
			"only). The answer is its delivery; read it again for the attempts. A disabled endpoint answers 409 "+
			"webhook_endpoint_disabled."),
		func(ctx context.Context, in *getIn) (*deliveryOut, error) {
			wh, err := s.webhookService(ctx)
			if err != nil {
				return nil, err
			}
			d, err := wh.SendTest(ctx, in.Endpoint)
			if err != nil {
				return nil, err
			}
			return &deliveryOut{Body: d}, nil
		})

	type deliveriesIn struct {
		WebhookEndpointPath
		PageParams
		Status string `query:"status" enum:"pending,succeeded,failed" doc:"Only deliveries of this status."`
	}
	type deliveriesOut struct {
		Body billow.Page[*billow.WebhookDelivery]
	}
	register(s, operation("listWebhookDeliveries", http.MethodGet, "/v1/webhook_endpoints/{endpoint}/deliveries", "List an endpoint's deliveries", tag,
		"The endpoint's deliveries, newest first (operator only): one per event sent to it, with its status, attempts so far, "+
			"next attempt and the last answer. Finished deliveries are kept 30 days."),
		func(ctx context.Context, in *deliveriesIn) (*deliveriesOut, error) {
			wh, err := s.webhookService(ctx)
			if err != nil {
				return nil, err
			}
			page, err := wh.Deliveries(ctx, in.Endpoint, billow.WebhookDeliveryFilter{Status: billow.WebhookDeliveryStatus(in.Status)}, in.input())
			if err != nil {
				return nil, err
			}
			return &deliveriesOut{Body: page}, nil
		})

	type deliveryIn struct{ WebhookDeliveryPath }
	type deliveryDetailOut struct {
		Body *billow.WebhookDeliveryDetail
	}
	register(s, operation("getWebhookDelivery", http.MethodGet, "/v1/webhook_deliveries/{delivery}", "Get a webhook delivery", tag,
		"A delivery with its payload and its latest attempts, newest first (operator only): when each was sent, the status "+
			"code, how long it took, the error, and the start of the answer (at most 4 KiB)."),
		func(ctx context.Context, in *deliveryIn) (*deliveryDetailOut, error) {
			wh, err := s.webhookService(ctx)
			if err != nil {
				return nil, err
			}
			d, err := wh.Delivery(ctx, in.Delivery)
			if err != nil {
				return nil, err
			}
			return &deliveryDetailOut{Body: d}, nil
		})

	register(s, withStatus(http.StatusOK, operation("replayWebhookDelivery", http.MethodPost, "/v1/webhook_deliveries/{delivery}/replay",
		"Replay a webhook delivery", tag,
		"Queues the delivery again, due now (operator only): a new series of attempts, retried on the same schedule, with "+
			"the same webhook-id and body, so a receiver that handled it already can tell. A delivery being sent answers 409 "+
			"webhook_delivery_in_flight; one of a disabled endpoint, 409 webhook_endpoint_disabled; at most 20 replays.")),
		func(ctx context.Context, in *deliveryIn) (*deliveryOut, error) {
			wh, err := s.webhookService(ctx)
			if err != nil {
				return nil, err
			}
			d, err := wh.Replay(ctx, in.Delivery)
			if err != nil {
				return nil, err
			}
			return &deliveryOut{Body: d}, nil
		})
}
