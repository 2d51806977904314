package notify

import (
	"context"

	"github.com/billowhq/billow"
)

// QueueEmail queues one email of the catalogue as the billing event e would, to the
// members of e's account having the email's roles, with the given data: a test sends
// every template through delivery without staging the billing that causes it.
func (s *Service) QueueEmail(ctx context.Context, e *billow.BillingEvent, template string, data map[string]any, invoice string) ([]*Message, error) {
	st, err := s.accountState(ctx, e.Account)
	if err != nil {
		return nil, err
	}
	msgs, err := s.messagesFor(e, st, email{template: template, data: data, invoice: invoice}, s.clock.Now())
	if err != nil {
		return nil, err
	}
	return s.store.InsertMessages(ctx, msgs, RateLimit{})
}
