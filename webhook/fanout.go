package webhook

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"time"

	"github.com/billowhq/billow"
)

// Payload is the body of a message: the event's type, when it happened, and its data
// with the event's id, account and subject added.
type Payload struct {
	Type      string         `json:"type"`
	Timestamp string         `json:"timestamp"`
	Data      map[string]any `json:"data"`
}

// PayloadOf returns the body of the message that reports ev.
func PayloadOf(ev *billow.BillingEvent) ([]byte, error) {
	data := make(map[string]any, len(ev.Data)+3)
	maps.Copy(data, ev.Data)
	data["id"], data["subject"] = ev.ID, ev.Subject
	if ev.Account != "" {
		data["account"] = ev.Account
	}
	body, err := json.Marshal(Payload{Type: ev.Type, Timestamp: ev.OccurredAt.UTC().Format(time.RFC3339Nano), Data: data})
	if err != nil {
		return nil, fmt.Errorf("webhook: payload of event %s: %w", ev.ID, err)
	}
	if len(body) > billow.WebhookPayloadMaxBytes {
		return nil, fmt.Errorf("webhook: payload of event %s is %d bytes, above %d", ev.ID, len(body), billow.WebhookPayloadMaxBytes)
	}
	return body, nil
}

// newDelivery returns the delivery of ev to e, due at now.
func newDelivery(e *billow.WebhookEndpoint, ev *billow.BillingEvent, now time.Time) (*billow.WebhookDelivery, error) {
	body, err := PayloadOf(ev)
	if err != nil {
		return nil, err
	}
	return &billow.WebhookDelivery{ID: billow.NewID(billow.PrefixWebhookMessage, now), Endpoint: e.ID, Event: ev.ID, EventType: ev.Type,
		Account: ev.Account, Status: billow.WebhookPending, NextAttemptAt: &now, Payload: body, CreatedAt: now, UpdatedAt: now}, nil
}

// FanOut makes the deliveries of the billing events written since its last run, up to
// feed.StepsPerRunMax steps of FanOutEventsMax events; the next run takes the rest. It
// fits jobs.Periodic.Run, and is safe to run in two processes at once.
func (s *Service) FanOut(ctx context.Context, _ time.Time) error {
	_, err := s.follower.Run(ctx)
	return err
}

// Handle is the feed's handler: one delivery per event and enabled endpoint whose filter
// wants it. Events handed again create nothing: a delivery is unique by (endpoint,
// event). An endpoint receives the events fanned out while it is enabled, none from
// before it was made or while it was disabled.
func (s *Service) Handle(ctx context.Context, events []*billow.BillingEvent) error {
	endpoints, err := s.store.EnabledWebhookEndpoints(ctx)
	if err != nil || len(endpoints) == 0 {
		return err
	}
	now := s.now()
	var ds []*billow.WebhookDelivery
	for _, ev := range events {
		for _, e := range endpoints {
			if !e.Wants(ev.Type) {
				continue
			}
			d, err := newDelivery(e, ev, now)
			if err != nil {
				// A payload that cannot be made never will be: logged, not retried, so one
				// bad event does not stop every webhook behind it.
				s.logger.ErrorContext(ctx, "webhook payload", "event", ev.ID, "error", err)
				continue
			}
			ds = append(ds, d)
		}
	}
	if len(ds) == 0 {
		return nil
	}
	n, err := s.store.CreateWebhookDeliveries(ctx, ds)
	if err != nil {
		return err
	}
	if n > 0 {
		s.logger.DebugContext(ctx, "webhook deliveries queued", "count", n, "events", len(events))
	}
	return nil
}
