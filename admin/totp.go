package admin

import (
	"crypto/subtle"
	"encoding/base32"
	"errors"
	"strings"
	"time"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/hotp"
	"github.com/pquerna/otp/totp"
)

// TOTP as every authenticator app reads it by default (RFC 6238): SHA-1, six digits, a
// 30-second step, a 160-bit secret.
const (
	// TOTPIssuer names Billow in the operator's authenticator app.
	TOTPIssuer = "Billow admin"
	// totpStepSeconds is the time step a code belongs to.
	totpStepSeconds = 30
	// totpSkewSteps is how many steps before and after the current one a code may be
	// from: one, for a phone's clock a little off and a code typed as it turned.
	totpSkewSteps = 1
	// totpSecretBytes is the randomness of a new secret (RFC 4226 recommends 160 bits).
	totpSecretBytes = 20
	// totpCodeDigits is the length of a code.
	totpCodeDigits = 6
)

// NewTOTPKey makes a new TOTP secret for an operator and returns it with its otpauth://
// URL (what a QR code holds), for the authenticator app.
func NewTOTPKey(email string) (secret, url string, err error) {
	k, err := totp.Generate(totp.GenerateOpts{Issuer: TOTPIssuer, AccountName: email, Period: totpStepSeconds,
		SecretSize: totpSecretBytes, Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1})
	if err != nil {
		return "", "", err
	}
	return k.Secret(), k.URL(), nil
}

// TOTPURL returns the otpauth:// URL of an existing secret.
func TOTPURL(email, secret string) (string, error) {
	raw, err := decodeSecret(secret)
	if err != nil {
		return "", err
	}
	k, err := totp.Generate(totp.GenerateOpts{Issuer: TOTPIssuer, AccountName: email, Period: totpStepSeconds,
		Secret: raw, Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1})
	if err != nil {
		return "", err
	}
	return k.URL(), nil
}

// decodeSecret turns a base32 secret, as authenticator apps and otpauth URLs write
// it (upper case, no padding), back into its bytes.
func decodeSecret(secret string) ([]byte, error) {
	b, err := base32.StdEncoding.WithPadding(base32.NoPadding).DecodeString(strings.ToUpper(strings.TrimRight(secret, "=")))
	if err != nil || len(b) == 0 {
		return nil, errTOTPSecret
	}
	return b, nil
}

// TOTPCode returns the code of secret at t: for tests, and for nothing else.
func TOTPCode(secret string, t time.Time) (string, error) {
	return totp.GenerateCodeCustom(secret, t, totp.ValidateOpts{Period: totpStepSeconds, Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1})
}

// errTOTPSecret says a stored TOTP secret is not base32: a fault of the data.
var errTOTPSecret = errors.New("admin: the stored TOTP secret is not base32")

// checkTOTP returns the time step of the code if it is the code of secret for a step
// within totpSkewSteps of now, and 0 when it is not. Each candidate is compared in
// constant time. Whether the step was used already is the caller's check, against the
// operator's last step (replayedStep), and the store's, atomically, at sign-in.
func checkTOTP(secret, code string, now time.Time) (int64, error) {
	if len(code) != totpCodeDigits {
		return 0, nil
	}
	current := now.Unix() / totpStepSeconds
	var matched int64
	for step := current - totpSkewSteps; step <= current+totpSkewSteps; step++ {
		want, err := hotp.GenerateCodeCustom(secret, uint64(step), hotp.ValidateOpts{Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1})
		if err != nil {
			return 0, errTOTPSecret
		}
		if subtle.ConstantTimeCompare([]byte(want), []byte(code)) == 1 {
			matched = step // the latest step that matches
		}
	}
	return matched, nil
}

// replayedStep reports whether a matched step was used already: the caller tells the
// operator to wait for the next code rather than that it was wrong.
func replayedStep(step, lastStep int64) bool { return step != 0 && step <= lastStep }
