package billow

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"strings"
	"time"
)

// Key secrets: a kind prefix, then 32 random base-62 characters (about 190 bits), so a
// key is found by a hash lookup and a leaked key is recognisable in a scan.
const (
	SecretPrefixOperator = "sk_"
	SecretPrefixAccount  = "ak_"
	secretRandomChars    = 32
	// KeyDisplayPrefixChars is how much of a secret is kept in clear to tell keys apart.
	KeyDisplayPrefixChars = 10
	APIKeyNameMaxBytes    = 100
)

// APIKey is a credential. Operator keys see everything; an account key sees one account.
// Only the SHA-256 of the secret is stored: the secret is shown once, at creation.
type APIKey struct {
	ID        string     `json:"id"`
	Name      string     `json:"name"`
	AccountID string     `json:"account,omitempty" doc:"The account this key is scoped to; absent for operator keys."`
	Prefix    string     `json:"prefix" doc:"The first characters of the secret, to tell keys apart."`
	CreatedAt time.Time  `json:"created_at"`
	RevokedAt *time.Time `json:"revoked_at,omitempty"`
}

// CreateAPIKeyInput creates a key; with an account it is scoped to that account.
type CreateAPIKeyInput struct {
	Name    string `json:"name" maxLength:"100"`
	Account string `json:"account,omitempty" doc:"Id or external id of the account to scope the key to; omit for an operator key."`
}

// Validate reports every invalid field at once.
func (in *CreateAPIKeyInput) Validate() error {
	in.Name = strings.TrimSpace(in.Name)
	in.Account = strings.TrimSpace(in.Account)
	var errs fieldErrors
	validateName(&errs, "name", in.Name, true)
	if len(in.Name) > APIKeyNameMaxBytes {
		errs.add("name", "must be at most %d bytes", APIKeyNameMaxBytes)
	}
	return errs.err()
}

// Principal is who is calling: an operator key, or a key or portal session of one account.
type Principal struct {
	KeyID     string
	AccountID string // empty for the operator
}

// IsOperator reports whether the principal may see every account.
func (p Principal) IsOperator() bool { return p.AccountID == "" }

// CanSee reports whether the principal may read and change the given account.
func (p Principal) CanSee(accountID string) bool {
	return p.AccountID == "" || p.AccountID == accountID
}

// NewSecret returns a new random key secret with the given kind prefix.
func NewSecret(prefix string) string {
	const alphabet = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
	// rand.Text would give base32; base62 keeps keys short and copyable with a double click.
	var b strings.Builder
	b.WriteString(prefix)
	buf := make([]byte, 1)
	for b.Len() < len(prefix)+secretRandomChars {
		if _, err := rand.Read(buf); err != nil {
			panic(err) // crypto/rand never fails on supported platforms
		}
		// Reject bytes ≥ 248 so each character is uniform over the 62.
		if buf[0] < 248 {
			b.WriteByte(alphabet[int(buf[0])%62])
		}
	}
	return b.String()
}

// HashSecret is how secrets are stored and looked up. A fast hash is right here: the
// secrets are long random strings, not passwords.
func HashSecret(secret string) string {
	sum := sha256.Sum256([]byte(secret))
	return hex.EncodeToString(sum[:])
}
