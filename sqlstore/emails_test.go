package sqlstore_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/billowhq/billow"
	"github.com/billowhq/billow/notify"
	"github.com/billowhq/billow/sqlstore"
	"github.com/billowhq/billow/sqlstore/storetest"
)

func newMessage(env *storetest.Env, key, to, group string) *notify.Message {
	now := env.Clock.Now()
	return &notify.Message{ID: billow.NewID(notify.PrefixMessage, now), DedupeKey: key, Template: "signup_otp", Group: group,
		ToEmail: to, Subject: "Your code", HTML: "<p>body</p>", Text: "body", Secret: true, Status: notify.StatusQueued,
		NextAttemptAt: now, CreatedAt: now, UpdatedAt: now}
}

// A message is queued once per dedupe key: queueing it again returns the stored one.
func TestMessagesAreQueuedOncePerKey(t *testing.T) {
	storetest.Each(t, func(t *testing.T, env *storetest.Env) {
		ctx := context.Background()
		first, err := env.DB.InsertMessages(ctx, []*notify.Message{newMessage(env, "evt_1:invoice_available:a@x.test", "a@x.test", "credits")}, notify.RateLimit{})
		if err != nil {
			t.Fatal(err)
		}
		again, err := env.DB.InsertMessages(ctx, []*notify.Message{
			newMessage(env, "evt_1:invoice_available:a@x.test", "a@x.test", "credits"),
			newMessage(env, "evt_1:invoice_available:b@x.test", "b@x.test", "credits"),
		}, notify.RateLimit{})
		if err != nil {
			t.Fatal(err)
		}
		if again[0].ID != first[0].ID || again[1].ID == first[0].ID {
			t.Fatalf("ids %s %s after %s: the stored message must come back for its key", again[0].ID, again[1].ID, first[0].ID)
		}
		page, err := env.DB.ListMessages(ctx, notify.MessageFilter{}, billow.PageInput{})
		if err != nil || len(page.Data) != 2 {
			t.Fatalf("%d messages (%v), want 2", len(page.Data), err)
		}
	})
}

// Product emails to one address are limited per window; other addresses and billing
// emails are not counted; the window moving on lets one more through.
func TestProductEmailsAreRateLimitedPerAddress(t *testing.T) {
	storetest.Each(t, func(t *testing.T, env *storetest.Env) {
		ctx := context.Background()
		limit := notify.RateLimit{Max: 3, Window: 10 * time.Minute}
		for i := range 3 {
			if _, err := env.DB.InsertMessages(ctx, []*notify.Message{newMessage(env, fmt.Sprint("p", i), "a@x.test", "product")}, limit); err != nil {
				t.Fatal(err)
			}
			env.Clock.Advance(time.Minute)
		}
		_, err := env.DB.InsertMessages(ctx, []*notify.Message{newMessage(env, "p3", "a@x.test", "product")}, limit)
		var rl *notify.RateLimitedError
		if !errors.As(err, &rl) || billow.ErrorCode(err) != notify.CodeRateLimited {
			t.Fatalf("fourth send: %v, want rate_limited", err)
		}
		// The first was queued 3 minutes ago: one more fits in 7 minutes.
		if rl.RetryAfter != 7*time.Minute {
			t.Errorf("retry after %s, want 7m", rl.RetryAfter)
		}
		if _, err := env.DB.InsertMessages(ctx, []*notify.Message{newMessage(env, "q0", "b@x.test", "product"), newMessage(env, "c0", "a@x.test", "credits")}, limit); err != nil {
			t.Fatalf("another address, a billing email: %v", err)
		}
		// A refused batch writes nothing, and one over the limit by itself is refused too.
		batch := []*notify.Message{newMessage(env, "b1", "b@x.test", "product"), newMessage(env, "b2", "b@x.test", "product"), newMessage(env, "b3", "b@x.test", "product")}
		if _, err := env.DB.InsertMessages(ctx, batch, limit); billow.ErrorCode(err) != notify.CodeRateLimited {
			t.Fatalf("batch over the limit: %v", err)
		}
		if page, _ := env.DB.ListMessages(ctx, notify.MessageFilter{ToEmail: "b@x.test"}, billow.PageInput{}); len(page.Data) != 1 {
			t.Fatalf("b@x.test has %d messages, want 1", len(page.Data))
		}
		env.Clock.Advance(7 * time.Minute)
		if _, err := env.DB.InsertMessages(ctx, []*notify.Message{newMessage(env, "p4", "a@x.test", "product")}, limit); err != nil {
			t.Fatalf("after the window moved: %v", err)
		}
	})
}

// Claims lease messages: a claimed message is not claimed again until its lease runs out;
// only the lease holder records its outcome; an attempt is logged and a secret body wiped.
func TestMessageLeaseAndDeliveryLog(t *testing.T) {
	storetest.Each(t, func(t *testing.T, env *storetest.Env) {
		ctx := context.Background()
		msgs, err := env.DB.InsertMessages(ctx, []*notify.Message{newMessage(env, "k1", "a@x.test", "product")}, notify.RateLimit{})
		if err != nil {
			t.Fatal(err)
		}
		id := msgs[0].ID
		now := env.Clock.Now()
		got, err := env.DB.ClaimMessages(ctx, now, time.Minute, "w1", 10)
		if err != nil || len(got) != 1 || got[0].Status != notify.StatusSending || got[0].LeaseToken != "w1" {
			t.Fatalf("claim: %+v, %v", got, err)
		}
		if again, err := env.DB.ClaimMessages(ctx, now.Add(30*time.Second), time.Minute, "w2", 10); err != nil || len(again) != 0 {
			t.Fatalf("claimed again within the lease: %d, %v", len(again), err)
		}
		// The first worker "dies"; after the lease another takes the message over.
		taken, err := env.DB.ClaimMessages(ctx, now.Add(2*time.Minute), time.Minute, "w2", 10)
		if err != nil || len(taken) != 1 {
			t.Fatalf("claim after the lease: %d, %v", len(taken), err)
		}
		rec := notify.AttemptRecord{Message: id, LeaseToken: "w1", Status: notify.StatusQueued, NextAttemptAt: now.Add(time.Hour),
			Attempt: notify.Attempt{At: now.Add(2 * time.Minute), Outcome: notify.OutcomeRetry, ReplyCode: 451, ReplyText: "try later"}}
		if err := env.DB.RecordAttempt(ctx, rec); billow.ErrorCode(err) != billow.CodeConcurrentUpdate {
			t.Fatalf("the lost lease recorded: %v", err)
		}
		rec.LeaseToken = "w2"
		if err := env.DB.RecordAttempt(ctx, rec); err != nil {
			t.Fatal(err)
		}
		if again, _ := env.DB.ClaimMessages(ctx, now.Add(59*time.Minute), time.Minute, "w3", 10); len(again) != 0 {
			t.Fatal("claimed before its next attempt")
		}
		got, err = env.DB.ClaimMessages(ctx, now.Add(time.Hour), time.Minute, "w3", 10)
		if err != nil || len(got) != 1 || got[0].Attempts != 1 {
			t.Fatalf("claim at the next attempt: %+v, %v", got, err)
		}
		sentAt := now.Add(time.Hour + time.Second)
		err = env.DB.RecordAttempt(ctx, notify.AttemptRecord{Message: id, LeaseToken: "w3", Status: notify.StatusSent, WipeBody: true,
			NextAttemptAt: sentAt, Attempt: notify.Attempt{At: sentAt, Outcome: notify.OutcomeSent, ReplyCode: 250, ReplyText: "OK", Duration: 1500 * time.Microsecond}})
		if err != nil {
			t.Fatal(err)
		}
		m, attempts, err := env.DB.Message(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		if m.Status != notify.StatusSent || m.SentAt == nil || !m.SentAt.Equal(sentAt.Truncate(time.Microsecond)) || m.HTML != "" || m.Text != "" || m.Subject == "" || m.Attempts != 2 {
			t.Fatalf("sent message %+v", m)
		}
		if len(attempts) != 2 || attempts[0].Outcome != notify.OutcomeRetry || attempts[0].ReplyCode != 451 ||
			attempts[1].Outcome != notify.OutcomeSent || attempts[1].Number != 2 || attempts[1].Duration != 1500*time.Microsecond {
			t.Fatalf("delivery log %+v", attempts)
		}
		if n, err := env.DB.RecentDeliveries(ctx, "a@x.test", now); err != nil || n != 1 {
			t.Fatalf("recent deliveries %d, %v", n, err)
		}
		if _, _, err := env.DB.Message(ctx, "msg_nope"); billow.ErrorCode(err) != billow.CodeNotFound {
			t.Fatalf("missing message: %v", err)
		}
	})
}

// Two stores on one database (two processes) claiming at once never get the same message.
func TestConcurrentClaimsAreDisjoint(t *testing.T) {
	storetest.Each(t, func(t *testing.T, env *storetest.Env) {
		ctx := context.Background()
		var msgs []*notify.Message
		for i := range 60 {
			msgs = append(msgs, newMessage(env, fmt.Sprint("k", i), fmt.Sprintf("r%d@x.test", i), "credits"))
		}
		if _, err := env.DB.InsertMessages(ctx, msgs, notify.RateLimit{}); err != nil {
			t.Fatal(err)
		}
		other, err := sqlstore.Open(ctx, sqlstore.Config{URL: env.URL, Clock: env.Clock})
		if err != nil {
			t.Fatal(err)
		}
		defer other.Close()
		var mu sync.Mutex // protects claimed
		claimed := map[string]string{}
		var wg sync.WaitGroup
		for w, db := range []*sqlstore.DB{env.DB, other, env.DB, other} {
			wg.Go(func() {
				token := fmt.Sprint("w", w)
				for {
					got, err := db.ClaimMessages(ctx, env.Clock.Now(), time.Minute, token, 7)
					if err != nil {
						t.Error(err)
						return
					}
					if len(got) == 0 {
						return
					}
					if len(got) > 7 {
						t.Errorf("%s claimed %d messages at once, above its limit of 7", token, len(got))
					}
					mu.Lock()
					for _, m := range got {
						if prev, ok := claimed[m.ID]; ok {
							t.Errorf("%s claimed by %s and %s", m.ID, prev, token)
						}
						claimed[m.ID] = token
					}
					mu.Unlock()
				}
			})
		}
		wg.Wait()
		if len(claimed) != len(msgs) {
			t.Fatalf("%d claimed, want %d", len(claimed), len(msgs))
		}
	})
}

// Lists filter by account, status and address, newest first, page by page, without bodies.
func TestListMessages(t *testing.T) {
	storetest.Each(t, func(t *testing.T, env *storetest.Env) {
		ctx := context.Background()
		a, err := env.DB.CreateAccount(ctx, billow.CreateAccountInput{ExternalID: "acme", Name: "Acme", Catalog: "credits-platform", Plan: "free"})
		if err != nil {
			t.Fatal(err)
		}
		var ids []string
		for i := range 5 {
			m := newMessage(env, fmt.Sprint("k", i), "a@x.test", "credits")
			if i%2 == 0 {
				m.Account = a.ID
			}
			if _, err := env.DB.InsertMessages(ctx, []*notify.Message{m}, notify.RateLimit{}); err != nil {
				t.Fatal(err)
			}
			ids = append(ids, m.ID)
			env.Clock.Advance(time.Millisecond)
		}
		page, err := env.DB.ListMessages(ctx, notify.MessageFilter{Account: a.ID}, billow.PageInput{Limit: 2})
		if err != nil || len(page.Data) != 2 || !page.HasMore || page.Data[0].ID != ids[4] || page.Data[1].ID != ids[2] || page.Data[0].HTML != "" {
			t.Fatalf("first page %+v, %v", page, err)
		}
		page, err = env.DB.ListMessages(ctx, notify.MessageFilter{Account: a.ID}, billow.PageInput{Limit: 2, StartingAfter: ids[2]})
		if err != nil || len(page.Data) != 1 || page.HasMore || page.Data[0].ID != ids[0] {
			t.Fatalf("second page %+v, %v", page, err)
		}
		for _, f := range []notify.MessageFilter{{Status: notify.StatusSent}, {ToEmail: "b@x.test"}} {
			if page, err := env.DB.ListMessages(ctx, f, billow.PageInput{}); err != nil || len(page.Data) != 0 {
				t.Fatalf("filter %+v: %d, %v", f, len(page.Data), err)
			}
		}
	})
}
