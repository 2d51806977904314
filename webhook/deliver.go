package webhook

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/billowhq/billow"
)

// recordTimeout bounds the recording of an attempt, which goes on when the worker's
// context ends: a message that was received must not be sent again for want of a row.
const recordTimeout = 10 * time.Second

// Deliver claims the deliveries due at now (at most the configured batch), sends them,
// a bounded number at a time, records each attempt, and returns how many it claimed.
// Run calls it; tests call it with a test clock's now.
func (s *Service) Deliver(ctx context.Context, now time.Time) (int, error) {
	claims, err := s.store.ClaimWebhookDeliveries(ctx, now, s.lease, s.batch)
	if err != nil {
		return 0, err
	}
	sem := make(chan struct{}, s.workers)
	var wg sync.WaitGroup
	for _, c := range claims {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			s.attempt(ctx, c)
		})
	}
	wg.Wait()
	return len(claims), nil
}

// Run delivers until ctx ends: every poll interval, and at once again while passes find
// full batches (a backlog). It also purges the log of deliveries finished more than
// Retention ago, hourly.
func (s *Service) Run(ctx context.Context) {
	ticker := time.NewTicker(s.pollInterval)
	defer ticker.Stop()
	var purged time.Time // wall time of the last purge: pacing, not dating
	for {
		for ctx.Err() == nil {
			n, err := s.Deliver(ctx, s.now())
			if err != nil {
				if ctx.Err() == nil {
					s.logger.ErrorContext(ctx, "webhook deliveries", "error", err)
				}
				break
			}
			if n < s.batch {
				break
			}
		}
		if time.Since(purged) >= purgeInterval && ctx.Err() == nil {
			purged = time.Now()
			n, err := s.store.PurgeWebhookDeliveries(ctx, s.now().Add(-Retention), purgeBatchMax)
			if err != nil && ctx.Err() == nil {
				s.logger.ErrorContext(ctx, "purge webhook deliveries", "error", err)
			} else if n > 0 {
				s.logger.InfoContext(ctx, "webhook deliveries purged", "count", n)
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-ticker.C:
		}
	}
}

// result is what one POST came to.
type result struct {
	status   int
	err      string
	response string
	duration time.Duration
}

// attempt sends a claimed delivery once and records the attempt with what follows.
func (s *Service) attempt(ctx context.Context, c *billow.WebhookClaim) {
	d, e := c.Delivery, c.Endpoint
	at := s.now()
	res := s.post(ctx, e, d, at)
	if res.status == 0 && ctx.Err() != nil {
		// Cut off by shutdown, not by the receiver: nothing is recorded, and the lease
		// runs out so that another worker sends it again, under the same webhook-id.
		return
	}
	a := &billow.WebhookAttempt{ID: billow.NewID(billow.PrefixWebhookAttempt, at), Delivery: d.ID, Series: d.Series, Number: d.Attempts + 1,
		At: at, StatusCode: int64(res.status), DurationMs: res.duration.Milliseconds(), Succeeded: succeeded(res.status),
		Error: res.err, Response: res.response}
	w := next(a, e, at)
	w.Token, w.Endpoint = c.Token, e.ID
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), recordTimeout)
	defer cancel()
	log := s.logger.With(slog.Group("webhook", "delivery", d.ID, "endpoint", e.ID, "event_type", d.EventType,
		"series", a.Series, "attempt", a.Number, "status_code", res.status, "outcome", string(w.Status)))
	if err := s.store.RecordWebhookAttempt(rctx, w); err != nil {
		if billow.ErrorCode(err) == billow.CodeConcurrentUpdate {
			// The endpoint was deleted meanwhile, or the claim ran out and another worker
			// took the delivery: its attempt is the one recorded.
			log.WarnContext(ctx, "webhook attempt not recorded: the claim was lost", "error", err)
			return
		}
		log.ErrorContext(ctx, "record webhook attempt", "error", err)
		return
	}
	switch {
	case w.DisableEndpoint != "":
		log.WarnContext(ctx, "webhook endpoint disabled", "reason", w.DisableEndpoint, "error", res.err)
	case a.Succeeded:
		log.DebugContext(ctx, "webhook delivered", "duration_ms", a.DurationMs)
	default:
		log.InfoContext(ctx, "webhook attempt failed", "error", res.err, "next_attempt_at", w.NextAttemptAt)
	}
}

func succeeded(status int) bool { return status >= 200 && status <= 299 }

// next decides what follows an attempt made at `at`: success; a 410, which fails the
// delivery and disables the endpoint (the receiver says it is gone for good); a retry
// after the schedule's wait; or, after the last attempt, failure. An endpoint that has
// failed every attempt for billow.WebhookFailingDisableAfter is disabled; its pending
// deliveries wait for it to be enabled again.
func next(a *billow.WebhookAttempt, e *billow.WebhookEndpoint, at time.Time) billow.WebhookAttemptWrite {
	w := billow.WebhookAttemptWrite{Attempt: a}
	switch {
	case a.Succeeded:
		w.Status = billow.WebhookSucceeded
		return w
	case a.StatusCode == http.StatusGone:
		w.Status, w.DisableEndpoint = billow.WebhookFailed, "gone"
		return w
	}
	if delay, ok := billow.WebhookRetryDelay(int(a.Number)); ok {
		t := at.Add(delay)
		w.Status, w.NextAttemptAt = billow.WebhookPending, &t
	} else {
		w.Status = billow.WebhookFailed
	}
	if e.FailingSince != nil && at.Sub(*e.FailingSince) >= billow.WebhookFailingDisableAfter {
		w.DisableEndpoint = "failing"
	}
	return w
}

// post sends one message: signed at `at`, within RequestTimeout, keeping at most
// billow.WebhookResponseExcerptMaxBytes of the answer.
func (s *Service) post(ctx context.Context, e *billow.WebhookEndpoint, d *billow.WebhookDelivery, at time.Time) result {
	sig, err := SignatureHeader(e.SigningSecrets(at), d.ID, at, d.Payload)
	if err != nil {
		return result{err: "sign: " + err.Error()}
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, e.URL, bytes.NewReader(d.Payload))
	if err != nil {
		return result{err: bounded(err.Error(), errorMaxBytes)}
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", UserAgent)
	req.Header.Set("webhook-id", d.ID)
	req.Header.Set("webhook-timestamp", strconv.FormatInt(at.Unix(), 10))
	req.Header.Set("webhook-signature", sig)
	// A duration, not a date: measured on the wall clock's monotonic reading, which a
	// test clock standing still cannot give.
	start := time.Now()
	resp, err := s.client.Do(req)
	if err != nil {
		return result{err: describe(err), duration: time.Since(start)}
	}
	defer resp.Body.Close()
	body, readErr := io.ReadAll(io.LimitReader(resp.Body, billow.WebhookResponseExcerptMaxBytes))
	r := result{status: resp.StatusCode, response: bounded(printable(body), billow.WebhookResponseExcerptMaxBytes), duration: time.Since(start)}
	switch {
	case readErr != nil && !succeeded(resp.StatusCode):
		r.err = "reading the answer: " + describe(readErr)
	case resp.StatusCode >= 300 && resp.StatusCode <= 399:
		r.err = bounded("redirect to "+resp.Header.Get("Location")+" not followed: register the final URL", errorMaxBytes)
	case !succeeded(resp.StatusCode):
		r.err = "HTTP " + strconv.Itoa(resp.StatusCode)
	}
	return r
}

// describe says why a request failed, without the URL the log shows beside it.
func describe(err error) string {
	var ue *url.Error
	if errors.As(err, &ue) {
		if ue.Timeout() {
			return fmt.Sprintf("no answer within %s", RequestTimeout)
		}
		err = ue.Err
	}
	return bounded(err.Error(), errorMaxBytes)
}

// printable makes a receiver's bytes storable text: valid UTF-8 without NUL, which
// PostgreSQL's text refuses.
func printable(b []byte) string {
	return strings.ReplaceAll(strings.ToValidUTF8(string(b), "\uFFFD"), "\x00", "\uFFFD")
}

func bounded(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return strings.ToValidUTF8(s[:n], "") + "…"
}
