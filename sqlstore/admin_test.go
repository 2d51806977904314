package sqlstore_test

import (
	"testing"
	"time"

	"github.com/billowhq/billow"
	"github.com/billowhq/billow/sqlstore/storetest"
)

// An operator is unique by email in any case; failures lock it out after
// billow.AdminLoginFailuresMax within the window, for billow.AdminLockoutDuration; a TOTP
// step signs in once; the TOTP-stage session is replaced by a new active one; sessions
// end when idle, at their absolute expiry and when ended, and are purged after.
func TestAdminStore(t *testing.T) {
	storetest.Each(t, func(t *testing.T, env *storetest.Env) {
		db, clock := env.DB, env.Clock
		u := &billow.AdminUser{Email: "Ops@Example.com", Name: "Ops", PasswordHash: "$argon2id$v=19$m=64,t=1,p=1$c29tZXNhbHQ$AAAAAAAAAAAAAAAAAAAAAA",
			TOTPSecret: "JBSWY3DPEHPK3PXP"}
		if err := db.CreateAdminUser(ctx, u); err != nil {
			t.Fatal(err)
		}
		if !billow.IsID(u.ID, billow.PrefixAdminUser) || u.Email != "ops@example.com" {
			t.Fatalf("created %+v", u)
		}
		dup := &billow.AdminUser{Email: "OPS@example.com", Name: "Again", PasswordHash: "x", TOTPSecret: "y"}
		if err := db.CreateAdminUser(ctx, dup); billow.ErrorCode(err) != billow.CodeEmailTaken {
			t.Fatalf("the same email again: %v, want email_taken", err)
		}
		got, err := db.AdminUserByEmail(ctx, " ops@EXAMPLE.com ")
		if err != nil || got.ID != u.ID || got.PasswordHash != u.PasswordHash || got.TOTPSecret != u.TOTPSecret || got.TOTPLastStep != 0 {
			t.Fatalf("by email: %+v, %v", got, err)
		}
		if _, err := db.AdminUserByEmail(ctx, "nobody@example.com"); billow.ErrorCode(err) != billow.CodeNotFound {
			t.Fatalf("unknown email: %v", err)
		}

		// Failures: four, then a window passes and the count starts again; five in a
		// window lock.
		for i := 1; i <= billow.AdminLoginFailuresMax-1; i++ {
			got, err = db.RecordAdminLoginFailure(ctx, u.ID)
			if err != nil || got.FailedCount != i || got.Locked(clock.Now()) {
				t.Fatalf("failure %d: %+v, %v", i, got, err)
			}
		}
		clock.Advance(billow.AdminLoginFailureWindow)
		if got, _ = db.RecordAdminLoginFailure(ctx, u.ID); got.FailedCount != 1 || got.Locked(clock.Now()) {
			t.Fatalf("after the window the count starts again: %+v", got)
		}
		for range billow.AdminLoginFailuresMax - 1 {
			got, err = db.RecordAdminLoginFailure(ctx, u.ID)
		}
		if err != nil || !got.Locked(clock.Now()) || !got.LockedUntil.Equal(clock.Now().Truncate(time.Microsecond).Add(billow.AdminLockoutDuration)) {
			t.Fatalf("five failures in a window: %+v, %v", got, err)
		}

		// A password right while locked: the code step refuses to complete.
		pending, secret, err := db.StartAdminLogin(ctx, u.ID)
		if err != nil || pending.Stage != billow.AdminStageTOTP || len(secret) != 43 {
			t.Fatalf("start: %+v %q %v", pending, secret, err)
		}
		if _, _, err := db.CompleteAdminLogin(ctx, pending.ID, 100); billow.ErrorCode(err) != billow.CodeAdminLocked {
			t.Fatalf("complete while locked: %v, want admin_locked", err)
		}
		clock.Advance(billow.AdminLockoutDuration)

		// The pending session may only wait AdminLoginPendingTTL.
		clock.Advance(billow.AdminLoginPendingTTL)
		if _, err := db.AdminSession(ctx, secret); billow.ErrorCode(err) != billow.CodeUnauthorized {
			t.Fatalf("a pending session after its TTL: %v", err)
		}
		if _, _, err := db.CompleteAdminLogin(ctx, pending.ID, 100); billow.ErrorCode(err) != billow.CodeUnauthorized {
			t.Fatalf("complete after the TTL: %v", err)
		}

		// Sign-in: a new session, with a new id, secret and CSRF token; the pending one is gone.
		pending, secret, err = db.StartAdminLogin(ctx, u.ID)
		if err != nil {
			t.Fatal(err)
		}
		if s, err := db.AdminSession(ctx, secret); err != nil || s.ID != pending.ID || s.Stage != billow.AdminStageTOTP {
			t.Fatalf("pending session: %+v, %v", s, err)
		}
		active, activeSecret, err := db.CompleteAdminLogin(ctx, pending.ID, 100)
		if err != nil || active.Stage != billow.AdminStageActive || active.ID == pending.ID || activeSecret == secret ||
			active.CSRFToken == pending.CSRFToken || !active.ExpiresAt.Equal(active.CreatedAt.Add(billow.AdminSessionTTL)) {
			t.Fatalf("complete: %+v, %v", active, err)
		}
		if _, err := db.AdminSession(ctx, secret); billow.ErrorCode(err) != billow.CodeUnauthorized {
			t.Fatalf("the pending secret after sign-in: %v", err)
		}
		if got, _ = db.AdminUser(ctx, u.ID); got.TOTPLastStep != 100 || got.FailedCount != 0 || got.FailedSince != nil {
			t.Fatalf("after sign-in: %+v", got)
		}
		// The same step, or an earlier one, again: refused.
		for _, step := range []int64{100, 99} {
			p, _, err := db.StartAdminLogin(ctx, u.ID)
			if err != nil {
				t.Fatal(err)
			}
			if _, _, err := db.CompleteAdminLogin(ctx, p.ID, step); billow.ErrorCode(err) != billow.CodeAdminTOTPReplayed {
				t.Fatalf("step %d again: %v, want admin_totp_replayed", step, err)
			}
		}

		// Idle: used within the idle TTL it lives on; idle longer, it ends.
		clock.Advance(billow.AdminSessionIdleTTL - time.Minute)
		if s, err := db.AdminSession(ctx, activeSecret); err != nil || !s.LastSeenAt.Equal(clock.Now().Truncate(time.Microsecond)) {
			t.Fatalf("used after 29 minutes: %+v, %v", s, err)
		}
		clock.Advance(billow.AdminSessionIdleTTL)
		if _, err := db.AdminSession(ctx, activeSecret); billow.ErrorCode(err) != billow.CodeUnauthorized {
			t.Fatalf("idle 30 minutes: %v", err)
		}

		// Absolute: used every 20 minutes, it still ends 12 hours after sign-in.
		p, _, _ := db.StartAdminLogin(ctx, u.ID)
		s, s2, err := db.CompleteAdminLogin(ctx, p.ID, 101)
		if err != nil {
			t.Fatal(err)
		}
		for clock.Now().Before(s.ExpiresAt.Add(-20 * time.Minute)) {
			clock.Advance(20 * time.Minute)
			if _, err := db.AdminSession(ctx, s2); err != nil {
				t.Fatalf("used at %s: %v", clock.Now().Sub(s.CreatedAt), err)
			}
		}
		clock.Advance(20 * time.Minute)
		if _, err := db.AdminSession(ctx, s2); billow.ErrorCode(err) != billow.CodeUnauthorized {
			t.Fatalf("after 12 hours: %v", err)
		}

		// Ended: gone at once; purged with the expired ones.
		p, _, _ = db.StartAdminLogin(ctx, u.ID)
		s, s3, err := db.CompleteAdminLogin(ctx, p.ID, 102)
		if err != nil {
			t.Fatal(err)
		}
		if err := db.EndAdminSession(ctx, s.ID); err != nil {
			t.Fatal(err)
		}
		if _, err := db.AdminSession(ctx, s3); billow.ErrorCode(err) != billow.CodeUnauthorized {
			t.Fatalf("an ended session: %v", err)
		}
		n, err := db.PurgeAdminSessions(ctx, 1000)
		if err != nil || n < 3 {
			t.Fatalf("purged %d, %v", n, err)
		}
		if n, _ := db.PurgeAdminSessions(ctx, 1000); n != 0 {
			t.Fatalf("purged %d more", n)
		}
	})
}
