package notify

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/billowhq/billow"
	"github.com/billowhq/billow/emails"
	"github.com/billowhq/billow/pdf"
)

// passBatchesMax bounds the batches one Deliver pass claims: a backlog is worked off over
// several passes, so that one pass never runs long.
const passBatchesMax = 20

// deferFor is how long a billing email over its recipient's delivery limit waits before
// it is looked at again.
const deferFor = time.Minute

// Deliver claims the due messages and sends them, DeliveryConcurrencyMax at a time, until
// none is due or passBatchesMax batches are done; it returns how many were sent. Each
// attempt is recorded with its outcome: sent; retried after RetryFirst doubling up to
// RetryMax; or failed, on a permanent refusal (SMTP 5xx) or once the message is older
// than GiveUpAfter. Without a Sender it sends nothing: messages stay queued. It is safe to
// run in several processes at once: each message is leased to one of them.
func (s *Service) Deliver(ctx context.Context) (int, error) {
	if s.sender == nil {
		return 0, nil
	}
	token := newLeaseToken()
	sentTotal := 0
	// Sends to each address within the window: counted in the store when the pass first
	// meets the address, then by the pass, so that the limit holds within a batch too.
	sends := map[string]int{}
	for range passBatchesMax {
		batch, err := s.store.ClaimMessages(ctx, s.clock.Now(), LeaseFor, token, DeliveryBatchMax)
		if err != nil {
			return sentTotal, err
		}
		if len(batch) == 0 {
			return sentTotal, nil
		}
		var mu sync.Mutex // protects sentTotal, sends and errs
		var errs []error
		sem := make(chan struct{}, DeliveryConcurrencyMax)
		var wg sync.WaitGroup
		fail := func(err error) {
			mu.Lock()
			defer mu.Unlock()
			errs = append(errs, err)
		}
		for _, m := range batch {
			mu.Lock()
			deferred, err := s.overLimit(ctx, m, sends)
			if err == nil && !deferred {
				sends[m.ToEmail]++
			}
			mu.Unlock()
			if err != nil {
				fail(err)
				continue
			}
			if deferred {
				now := s.clock.Now()
				if err := s.store.DeferMessage(ctx, m.ID, token, now.Add(deferFor), now); err != nil {
					fail(err)
				}
				continue
			}
			sem <- struct{}{}
			wg.Go(func() {
				defer func() { <-sem }()
				sent, err := s.attempt(ctx, m)
				if err != nil {
					fail(err)
				}
				if sent {
					mu.Lock()
					sentTotal++
					mu.Unlock()
				}
			})
		}
		wg.Wait()
		if err := errors.Join(errs...); err != nil {
			return sentTotal, err
		}
		if len(batch) < DeliveryBatchMax {
			return sentTotal, nil
		}
	}
	return sentTotal, nil
}

// overLimit reports whether a billing email must wait: its address had
// DeliveriesPerRecipientMax emails within DeliveryWindow. Product emails were bounded when
// they were asked for, and a code that waits is a code that expires: they never wait.
func (s *Service) overLimit(ctx context.Context, m *Message, sends map[string]int) (bool, error) {
	if _, counted := sends[m.ToEmail]; !counted {
		n, err := s.store.RecentDeliveries(ctx, m.ToEmail, s.clock.Now().Add(-DeliveryWindow))
		if err != nil {
			return false, err
		}
		sends[m.ToEmail] = n
	}
	if m.Group == string(emails.GroupProduct) {
		return false, nil
	}
	return sends[m.ToEmail] >= DeliveriesPerRecipientMax, nil
}

// attempt sends one claimed message and records the outcome. It reports whether the
// message was sent; its error is an operating error of the store.
func (s *Service) attempt(ctx context.Context, m *Message) (bool, error) {
	now := s.clock.Now()
	rec := AttemptRecord{Message: m.ID, LeaseToken: m.LeaseToken, Attempt: Attempt{At: now}}
	var reply Reply
	var sendErr error
	if now.Add(SendTimeout).After(m.NextAttemptAt) {
		// The lease (its end is NextAttemptAt) could run out mid-send, and another worker
		// send the message too: give it back instead.
		return false, s.store.DeferMessage(ctx, m.ID, m.LeaseToken, now, now)
	}
	if now.Sub(m.CreatedAt) >= GiveUpAfter {
		sendErr = &giveUpError{"not sent within " + GiveUpAfter.String()}
	} else {
		mail, err := s.mail(ctx, m)
		if err != nil {
			sendErr = err
		} else {
			sendCtx, cancel := context.WithTimeout(ctx, SendTimeout)
			start := time.Now() // wall time for the attempt's duration, not the billing clock
			reply, sendErr = s.sender.Send(sendCtx, mail)
			rec.Attempt.Duration = time.Since(start)
			cancel()
		}
	}
	attempts := m.Attempts + 1
	switch {
	case sendErr == nil:
		rec.Status, rec.NextAttemptAt = StatusSent, now
		rec.Attempt.Outcome, rec.Attempt.ReplyCode, rec.Attempt.ReplyText = OutcomeSent, reply.Code, truncate(reply.Text)
	default:
		rec.Attempt.ReplyCode, rec.Attempt.ReplyText = replyCode(sendErr), truncate(sendErr.Error())
		rec.LastError = rec.Attempt.ReplyText
		next := now.Add(Backoff(attempts))
		if permanent(sendErr) || next.Sub(m.CreatedAt) >= GiveUpAfter {
			rec.Status, rec.NextAttemptAt, rec.Attempt.Outcome = StatusFailed, now, OutcomeFailed
		} else {
			rec.Status, rec.NextAttemptAt, rec.Attempt.Outcome = StatusQueued, next, OutcomeRetry
		}
	}
	// A secret is kept no longer than it may be needed for a resend.
	rec.WipeBody = m.Secret && rec.Status != StatusQueued
	attrs := slog.Group("message", "id", m.ID, "template", m.Template, "attempt", attempts, "outcome", rec.Attempt.Outcome,
		"reply_code", rec.Attempt.ReplyCode)
	if err := s.store.RecordAttempt(ctx, rec); err != nil {
		if billow.ErrorCode(err) == billow.CodeConcurrentUpdate {
			// Our lease ran out and another worker took the message over: its outcome
			// stands.
			s.logger.WarnContext(ctx, "email attempt not recorded: the lease was lost", attrs)
			return false, nil
		}
		return false, err
	}
	switch rec.Attempt.Outcome {
	case OutcomeSent:
		s.logger.InfoContext(ctx, "email sent", attrs)
	case OutcomeRetry:
		s.logger.WarnContext(ctx, "email not sent; will retry", attrs, "error", rec.LastError, "next_attempt_at", rec.NextAttemptAt)
	default:
		s.logger.ErrorContext(ctx, "email failed; given up", attrs, "error", rec.LastError)
	}
	return rec.Status == StatusSent, nil
}

// Backoff is the wait after the attempts-th failed attempt: RetryFirst, doubling, at most
// RetryMax.
func Backoff(attempts int64) time.Duration {
	d := RetryFirst
	for i := int64(1); i < attempts && d < RetryMax; i++ {
		d *= 2
	}
	return min(d, RetryMax)
}

// mail builds what the Sender sends: the stored rendering, a Message-ID stable per
// message, and the invoice PDF, rendered now, for an invoice email.
func (s *Service) mail(ctx context.Context, m *Message) (*Mail, error) {
	out := &Mail{MessageID: m.ID + "@billow", From: s.from, To: m.ToEmail, ToName: m.ToName, Subject: m.Subject,
		HTML: m.HTML, Text: m.Text, Date: s.clock.Now()}
	if m.Invoice == "" {
		return out, nil
	}
	inv, err := s.store.Invoice(ctx, m.Invoice)
	if err != nil {
		return nil, fmt.Errorf("invoice %s for the attachment: %w", m.Invoice, err)
	}
	data, err := pdf.Render(inv, s.branding)
	if err != nil {
		return nil, fmt.Errorf("invoice %s as PDF: %w", m.Invoice, err)
	}
	name := inv.Number
	if name == "" {
		name = inv.ID
	}
	out.Attachments = append(out.Attachments, Attachment{Name: "invoice-" + name + ".pdf", ContentType: "application/pdf", Data: data})
	return out, nil
}

// giveUpError is an attempt not made: the message is too old to be of use.
type giveUpError struct{ reason string }

func (e *giveUpError) Error() string   { return e.reason }
func (e *giveUpError) Permanent() bool { return true }

func permanent(err error) bool {
	var p interface{ Permanent() bool }
	return errors.As(err, &p) && p.Permanent()
}

func replyCode(err error) int {
	var c interface{ ReplyCode() int }
	if errors.As(err, &c) {
		return c.ReplyCode()
	}
	return 0
}

// truncate bounds a text kept in the delivery log, on a rune boundary.
func truncate(s string) string {
	if len(s) <= LastErrorMaxBytes {
		return s
	}
	cut := LastErrorMaxBytes
	for cut > 0 && (s[cut]&0xc0) == 0x80 {
		cut--
	}
	return strings.ToValidUTF8(s[:cut], "")
}

// Intervals of the background work, named with their unit last.
const (
	// DeliveryInterval is how often a process's delivery worker looks for due messages.
	DeliveryInterval = time.Second
	// FanOutInterval is how often billing events are turned into messages (a periodic
	// job: one process at a time).
	FanOutInterval = time.Second
)

// Run delivers due messages every DeliveryInterval until ctx ends. Every process may run
// it: leases keep two from sending one message. Without a Sender it returns at once.
func (s *Service) Run(ctx context.Context) {
	if s.sender == nil {
		return
	}
	ticker := time.NewTicker(DeliveryInterval) // wall time: the worker's pace, not the billing clock
	defer ticker.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-ticker.C:
			if _, err := s.Deliver(ctx); err != nil && ctx.Err() == nil {
				s.logger.ErrorContext(ctx, "email delivery", "error", err)
			}
		}
	}
}
