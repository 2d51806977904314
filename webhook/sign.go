package webhook

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/billowhq/billow"
)

// NewSecret returns a new signing secret: whsec_ and billow.WebhookSecretKeyBytes random
// bytes in standard base64, the form the Standard Webhooks libraries read.
func NewSecret() string {
	key := make([]byte, billow.WebhookSecretKeyBytes)
	rand.Read(key) // never fails (crypto/rand)
	return billow.WebhookSecretPrefix + base64.StdEncoding.EncodeToString(key)
}

// SecretKey returns the key of a secret: the base64-decoded part after whsec_.
func SecretKey(secret string) ([]byte, error) {
	encoded, ok := strings.CutPrefix(secret, billow.WebhookSecretPrefix)
	if !ok {
		return nil, fmt.Errorf("webhook: a secret begins with %s", billow.WebhookSecretPrefix)
	}
	key, err := base64.StdEncoding.DecodeString(encoded)
	if err != nil {
		return nil, fmt.Errorf("webhook: a secret is %s and standard base64: %w", billow.WebhookSecretPrefix, err)
	}
	if len(key) == 0 {
		return nil, fmt.Errorf("webhook: empty secret")
	}
	return key, nil
}

// Sign returns the Standard Webhooks signature of a message, "v1," and the base64
// HMAC-SHA256, keyed by the secret's key, of "{msgID}.{timestamp}.{body}" with the
// timestamp in Unix seconds.
func Sign(secret, msgID string, timestamp time.Time, body []byte) (string, error) {
	key, err := SecretKey(secret)
	if err != nil {
		return "", err
	}
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(msgID))
	mac.Write([]byte{'.'})
	mac.Write([]byte(strconv.FormatInt(timestamp.Unix(), 10)))
	mac.Write([]byte{'.'})
	mac.Write(body)
	return "v1," + base64.StdEncoding.EncodeToString(mac.Sum(nil)), nil
}

// SignatureHeader returns the webhook-signature header of a message signed by each of
// the secrets, space-separated, as the spec allows while a secret is being rotated: a
// receiver accepts the message when any one of them verifies.
func SignatureHeader(secrets []string, msgID string, timestamp time.Time, body []byte) (string, error) {
	sigs := make([]string, 0, len(secrets))
	for _, s := range secrets {
		sig, err := Sign(s, msgID, timestamp, body)
		if err != nil {
			return "", err
		}
		sigs = append(sigs, sig)
	}
	return strings.Join(sigs, " "), nil
}
