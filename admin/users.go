package admin

import (
	"context"

	"github.com/billowhq/billow"
)

// UserStore is what making operators needs of the store.
type UserStore interface {
	CreateAdminUser(ctx context.Context, u *billow.AdminUser) error
	AdminUserByEmail(ctx context.Context, email string) (*billow.AdminUser, error)
}

// Enrollment is a new operator with what their authenticator app needs: shown once, by
// `billow admin create-user`, and never again by Billow.
type Enrollment struct {
	User       *billow.AdminUser
	TOTPSecret string
	// TOTPURL is the otpauth:// URL an authenticator app reads (from a QR code or pasted).
	TOTPURL string
}

// CreateUser makes an operator of the console: the password is hashed with argon2id and
// a new TOTP secret is made.
//
// Errors: validation_failed, email_taken.
func CreateUser(ctx context.Context, store UserStore, in billow.CreateAdminUserInput) (*Enrollment, error) {
	in.Normalize()
	if err := in.Validate(); err != nil {
		return nil, err
	}
	secret, url, err := NewTOTPKey(in.Email)
	if err != nil {
		return nil, err
	}
	u := &billow.AdminUser{Email: in.Email, Name: in.Name, PasswordHash: HashPassword(in.Password), TOTPSecret: secret}
	if err := store.CreateAdminUser(ctx, u); err != nil {
		return nil, err
	}
	return &Enrollment{User: u, TOTPSecret: secret, TOTPURL: url}, nil
}

// The demo operator `serve --demo` creates, with a fixed password and TOTP secret that
// docs/admin.md publishes: the demo's console is usable at once, and a demo database is
// nothing to protect. Never use them elsewhere.
const (
	DemoOperatorEmail    = "admin@billow.demo"
	DemoOperatorName     = "Demo Operator"
	DemoOperatorPassword = "billow-demo-admin"
	// DemoOperatorTOTPSecret is base32 (20 bytes), as an authenticator app takes it.
	DemoOperatorTOTPSecret = "BILLOWDEMOADMINTOTPSECRET2345ABC"
)

// EnsureDemoOperator creates the demo operator unless it exists, and returns it with its
// TOTP secret and URL either way: loading the demo again changes nothing.
func EnsureDemoOperator(ctx context.Context, store UserStore) (*Enrollment, error) {
	u, err := store.AdminUserByEmail(ctx, DemoOperatorEmail)
	if billow.ErrorCode(err) == billow.CodeNotFound {
		u = &billow.AdminUser{Email: DemoOperatorEmail, Name: DemoOperatorName, PasswordHash: HashPassword(DemoOperatorPassword),
			TOTPSecret: DemoOperatorTOTPSecret}
		err = store.CreateAdminUser(ctx, u)
	}
	if err != nil {
		return nil, err
	}
	url, err := TOTPURL(u.Email, u.TOTPSecret)
	if err != nil {
		return nil, err
	}
	return &Enrollment{User: u, TOTPSecret: u.TOTPSecret, TOTPURL: url}, nil
}
