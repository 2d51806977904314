package admin

import (
	"testing"
	"time"
)

// A code is accepted for its step and the steps beside it, never further; the step it
// returns is the code's, for the replay check.
func TestAdminTOTPSteps(t *testing.T) {
	secret, url, err := NewTOTPKey("ops@example.com")
	if err != nil || len(secret) != 32 || url == "" {
		t.Fatalf("key %q %q %v", secret, url, err)
	}
	now := time.Date(2026, 3, 1, 12, 0, 10, 0, time.UTC)
	step := now.Unix() / totpStepSeconds
	for _, d := range []int64{-1, 0, 1} {
		at := now.Add(time.Duration(d*totpStepSeconds) * time.Second)
		code, err := TOTPCode(secret, at)
		if err != nil {
			t.Fatal(err)
		}
		got, err := checkTOTP(secret, code, now)
		if err != nil || got != step+d {
			t.Errorf("code of step %+d: step %d, %v; want %d", d, got, err, step+d)
		}
		if !replayedStep(got, step+d) || replayedStep(got, step+d-1) {
			t.Errorf("replay check of step %+d", d)
		}
	}
	for _, d := range []int64{-3, -2, 2, 3} {
		code, _ := TOTPCode(secret, now.Add(time.Duration(d*totpStepSeconds)*time.Second))
		if got, _ := checkTOTP(secret, code, now); got != 0 && got != step-1 && got != step && got != step+1 {
			t.Errorf("code of step %+d accepted as %d", d, got)
		} else if got != 0 {
			// Six digits collide now and then; only a collision with an allowed step may pass.
			t.Logf("code of step %+d collides with an allowed step", d)
		}
	}
	for _, bad := range []string{"", "12345", "1234567", "abcdef"} {
		if got, err := checkTOTP(secret, bad, now); got != 0 || err != nil {
			t.Errorf("%q: %d, %v", bad, got, err)
		}
	}
	if _, err := checkTOTP("not base32!", "123456", now); err == nil {
		t.Error("a broken secret is not an error")
	}
	// The demo's published secret makes a URL the apps read.
	if u, err := TOTPURL(DemoOperatorEmail, DemoOperatorTOTPSecret); err != nil || u == "" {
		t.Fatalf("demo URL %q %v", u, err)
	}
}
