// Package notify owns the delivery of Billow's emails. It turns billing's domain events
// (followed from billing_events with feed.Follower) and the platform's product-email
// requests (POST /v1/notifications) into messages, rendered by package emails and queued
// in the outbox (one row per email and recipient, deduplicated by key), and delivers them
// through a Sender (package smtp) with a lease per claimed message, bounded exponential
// backoff and a delivery log per attempt.
//
// Exactly once: a message is made once per dedupe key (an event handled twice makes no
// second message); a claimed message is leased to one worker, which alone records its
// outcome; a worker that dies mid-send leaves its lease to expire and the message is sent
// again with the same Message-ID, the one case of a duplicate, recognisable as such.
//
// Secrecy: fields the catalogue marks Secret (one-time codes, reset and invitation links)
// reach the message body and nothing else. Logs, errors, the delivery log and the API name
// messages by id and template only; the body of a secret-bearing message is never shown by
// the API and is wiped once the message is sent or given up.
package notify
