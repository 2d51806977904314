// Package webhook sends Billow's outbound webhooks: the operator's endpoints, the fan-out
// of billing events to them, Standard Webhooks signing, and the delivery worker with its
// retries, delivery log and replays.
//
// The flow: billing writes each domain event to billing_events in the transaction of the
// change it reports. The fan-out follows that outbox as the feed consumer "webhooks"
// (package feed) and makes one delivery per enabled endpoint whose filter matches; a
// delivery is unique per (endpoint, event), so handling the same events twice creates
// nothing new. The worker claims due deliveries with a lease (no two workers, in one
// process or several, send the same delivery at once), POSTs each one signed, records the
// attempt and schedules the next by billow.WebhookRetrySchedule, about three days in all.
//
// Every delivery is one message with one id, sent as webhook-id on every attempt and
// every replay: a receiver that dedupes by it handles each event once, whatever Billow
// retries. The body is fixed when the delivery is made; only webhook-timestamp and the
// signatures change from one attempt to the next.
//
// Time: the clock it is given dates attempts, signs timestamps and schedules retries, so
// a test clock drives the whole retry schedule; only the request timeout, the polling of
// the worker and the measured durations run on the wall clock.
//
// docs/webhooks.md is the operator's and receiver's guide.
package webhook
