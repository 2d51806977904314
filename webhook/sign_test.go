package webhook_test

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"

	"github.com/billowhq/billow"
	"github.com/billowhq/billow/webhook"
)

// The test vector the Standard Webhooks spec publishes: Sign must give its signature, and
// the spec's own Go library must verify what Sign gives.
func TestSignStandardWebhooksVector(t *testing.T) {
	const (
		secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
		msgID  = "msg_p5jXN8AQM9LWM0D4loKWxJek"
		want   = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
	)
	ts := time.Unix(1614265330, 0)
	body := []byte(`{"test": 2432232314}`)
	got, err := webhook.Sign(secret, msgID, ts, body)
	if err != nil || got != want {
		t.Fatalf("Sign = %q, %v; want %q", got, err, want)
	}
	wh, err := standardwebhooks.NewWebhook(secret)
	if err != nil {
		t.Fatal(err)
	}
	libSig, err := wh.Sign(msgID, ts, body)
	if err != nil || libSig != want {
		t.Fatalf("the library signs %q, %v", libSig, err)
	}
	h := http.Header{}
	h.Set("webhook-id", msgID)
	h.Set("webhook-timestamp", "1614265330")
	h.Set("webhook-signature", got)
	if err := wh.VerifyIgnoringTimestamp(body, h); err != nil {
		t.Fatalf("the library refuses Sign's signature: %v", err)
	}
	// One byte of the body changed, or another id: no longer valid.
	if err := wh.VerifyIgnoringTimestamp([]byte(`{"test": 2432232315}`), h); err == nil {
		t.Fatal("a changed body verified")
	}
	h.Set("webhook-id", "msg_other")
	if err := wh.VerifyIgnoringTimestamp(body, h); err == nil {
		t.Fatal("another message id verified")
	}
}

// During a rotation the header carries both signatures, space-separated; a receiver with
// either secret verifies the message.
func TestSignatureHeaderWithTwoSecrets(t *testing.T) {
	oldSecret, newSecret := webhook.NewSecret(), webhook.NewSecret()
	ts := time.Unix(1_800_000_000, 0)
	body := []byte(`{"type":"invoice.paid"}`)
	header, err := webhook.SignatureHeader([]string{newSecret, oldSecret}, "msg_1", ts, body)
	if err != nil {
		t.Fatal(err)
	}
	if parts := strings.Split(header, " "); len(parts) != 2 || !strings.HasPrefix(parts[0], "v1,") || !strings.HasPrefix(parts[1], "v1,") {
		t.Fatalf("header %q, want two v1 signatures", header)
	}
	for _, secret := range []string{oldSecret, newSecret} {
		wh, err := standardwebhooks.NewWebhook(secret)
		if err != nil {
			t.Fatal(err)
		}
		h := http.Header{}
		h.Set("webhook-id", "msg_1")
		h.Set("webhook-timestamp", "1800000000")
		h.Set("webhook-signature", header)
		if err := wh.VerifyIgnoringTimestamp(body, h); err != nil {
			t.Fatalf("secret %s: %v", secret[:10], err)
		}
	}
	other, _ := standardwebhooks.NewWebhook(webhook.NewSecret())
	h := http.Header{}
	h.Set("webhook-id", "msg_1")
	h.Set("webhook-timestamp", "1800000000")
	h.Set("webhook-signature", header)
	if err := other.VerifyIgnoringTimestamp(body, h); err == nil {
		t.Fatal("a third secret verified")
	}
}

// A secret is whsec_ and 32 random bytes in standard base64; two are never alike.
func TestNewSecret(t *testing.T) {
	a, b := webhook.NewSecret(), webhook.NewSecret()
	if a == b {
		t.Fatal("two secrets alike")
	}
	for _, s := range []string{a, b} {
		key, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(s, billow.WebhookSecretPrefix))
		if !strings.HasPrefix(s, "whsec_") || err != nil || len(key) != billow.WebhookSecretKeyBytes {
			t.Fatalf("secret %q: %d bytes, %v", s, len(key), err)
		}
	}
	for _, bad := range []string{"MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "whsec_%%%", "whsec_"} {
		if _, err := webhook.Sign(bad, "msg", time.Unix(0, 0), nil); err == nil {
			t.Errorf("Sign with %q succeeded", bad)
		}
	}
}

// docsVerify is the receiver's verifier of docs/webhooks.md, word for word: the test
// keeps the documented snippet right.
func docsVerify(secret string, h http.Header, body []byte, now time.Time) error {
	key, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(secret, "whsec_"))
	if err != nil {
		return err
	}
	id, ts, sigs := h.Get("webhook-id"), h.Get("webhook-timestamp"), h.Get("webhook-signature")
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil || id == "" {
		return errors.New("missing or malformed webhook headers")
	}
	if d := now.Sub(time.Unix(sec, 0)); d > 5*time.Minute || d < -5*time.Minute {
		return errors.New("timestamp outside the tolerance")
	}
	mac := hmac.New(sha256.New, key)
	fmt.Fprintf(mac, "%s.%s.", id, ts)
	mac.Write(body)
	want := []byte(base64.StdEncoding.EncodeToString(mac.Sum(nil)))
	for _, s := range strings.Fields(sigs) {
		if v, sig, ok := strings.Cut(s, ","); ok && v == "v1" && hmac.Equal([]byte(sig), want) {
			return nil
		}
	}
	return errors.New("no matching signature")
}

// The documented verifier accepts the spec's vector and a rotation's two signatures, and
// refuses a stale timestamp, another body and another secret.
func TestDocumentedVerifier(t *testing.T) {
	h := http.Header{}
	h.Set("webhook-id", "msg_p5jXN8AQM9LWM0D4loKWxJek")
	h.Set("webhook-timestamp", "1614265330")
	h.Set("webhook-signature", "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=")
	body := []byte(`{"test": 2432232314}`)
	secret := "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
	at := time.Unix(1614265330, 0)
	if err := docsVerify(secret, h, body, at.Add(4*time.Minute)); err != nil {
		t.Fatalf("the vector: %v", err)
	}
	if err := docsVerify(secret, h, body, at.Add(6*time.Minute)); err == nil {
		t.Fatal("a stale timestamp verified")
	}
	if err := docsVerify(secret, h, []byte(`{"test": 1}`), at); err == nil {
		t.Fatal("another body verified")
	}
	if err := docsVerify(webhook.NewSecret(), h, body, at); err == nil {
		t.Fatal("another secret verified")
	}
	oldSecret, newSecret := webhook.NewSecret(), webhook.NewSecret()
	sig, err := webhook.SignatureHeader([]string{newSecret, oldSecret}, "msg_2", at, body)
	if err != nil {
		t.Fatal(err)
	}
	h.Set("webhook-id", "msg_2")
	h.Set("webhook-signature", sig)
	for _, s := range []string{oldSecret, newSecret} {
		if err := docsVerify(s, h, body, at); err != nil {
			t.Fatalf("during a rotation: %v", err)
		}
	}
}
