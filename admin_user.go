package billow

import (
	"strings"
	"time"
	"unicode/utf8"
)

// ID prefixes of the admin console's operators and their sessions.
const (
	PrefixAdminUser    = "adm_"
	PrefixAdminSession = "as_"
)

// Limits of the admin console's sign-in, named with their unit last. The console can
// clear wire transfers and read every account, so its rules are stricter than the
// portal's: two factors, a short idle timeout, and a lock after a few failures.
const (
	// AdminSessionIdleTTL ends a session nobody used for this long.
	AdminSessionIdleTTL = 30 * time.Minute
	// AdminSessionTTL ends a session this long after sign-in, used or not: an operator's
	// forgotten tab does not stay signed in overnight and the next day.
	AdminSessionTTL = 12 * time.Hour
	// AdminLoginPendingTTL is how long the state between a right password and the TOTP
	// code lasts: long enough to open an authenticator app, too short to be worth
	// stealing.
	AdminLoginPendingTTL = 5 * time.Minute
	// AdminLoginFailuresMax wrong passwords or codes within AdminLoginFailureWindow lock
	// the operator out for AdminLockoutDuration: online guessing of a password, or of a
	// six-digit code once the password is known, gets five tries a quarter-hour.
	AdminLoginFailuresMax   = 5
	AdminLoginFailureWindow = 15 * time.Minute
	AdminLockoutDuration    = 15 * time.Minute
	// AdminPasswordMinBytes and AdminPasswordMaxBytes bound a password: long enough to
	// resist guessing, short enough that hashing it costs what the parameters say and
	// no more.
	AdminPasswordMinBytes = 12
	AdminPasswordMaxBytes = 1024
)

// Error codes of the admin console's sign-in.
const (
	// CodeAdminLoginFailed refuses a wrong email, password or code; which of them was
	// wrong is not said.
	CodeAdminLoginFailed = "admin_login_failed"
	// CodeAdminLocked refuses a sign-in while the operator is locked out after
	// AdminLoginFailuresMax failures.
	CodeAdminLocked = "admin_locked"
	// CodeAdminTOTPReplayed refuses a TOTP code that was used already: a code seen over
	// a shoulder or in a proxy's log does not sign in a second time.
	CodeAdminTOTPReplayed = "admin_totp_replayed"
)

// AdminUser is an operator of the admin console: a person of the company running Billow,
// who signs in with a password and a TOTP code. The password is kept as an argon2id hash;
// the TOTP secret is kept as it is, because checking a code needs it: whoever can read the
// database can make codes, which is why docs/admin.md asks for the database to be
// protected like the keys it guards.
type AdminUser struct {
	ID    string `json:"id"`
	Email string `json:"email"`
	Name  string `json:"name"`
	// PasswordHash is the PHC string of the argon2id hash
	// ("$argon2id$v=19$m=…,t=…,p=…$salt$hash").
	PasswordHash string `json:"-"`
	// TOTPSecret is the base32 secret of the authenticator app (RFC 6238).
	TOTPSecret string `json:"-"`
	// TOTPLastStep is the time step of the last code accepted: a code of that step or an
	// earlier one is refused, so no code signs in twice.
	TOTPLastStep int64 `json:"-"`
	// FailedCount counts the failures since FailedSince, within AdminLoginFailureWindow.
	FailedCount int        `json:"-"`
	FailedSince *time.Time `json:"-"`
	// LockedUntil is when a lockout ends; nil when none was ever set.
	LockedUntil *time.Time `json:"locked_until,omitempty"`
	CreatedAt   time.Time  `json:"created_at"`
}

// Locked reports whether the operator is locked out at now.
func (u *AdminUser) Locked(now time.Time) bool {
	return u.LockedUntil != nil && now.Before(*u.LockedUntil)
}

// CreateAdminUserInput creates an operator of the admin console.
type CreateAdminUserInput struct {
	Email    string
	Name     string
	Password string
}

// Normalize trims the email and name and lower-cases the email: an operator signs in
// with it however they type it.
func (in *CreateAdminUserInput) Normalize() {
	in.Email = strings.ToLower(strings.TrimSpace(in.Email))
	in.Name = strings.TrimSpace(in.Name)
}

// Validate reports every invalid field at once. The password is never echoed.
func (in *CreateAdminUserInput) Validate() error {
	var errs fieldErrors
	if in.Email == "" {
		errs.add("email", "is required")
	} else {
		validateEmail(&errs, "email", in.Email)
	}
	validateName(&errs, "name", in.Name, true)
	switch n := len(in.Password); {
	case n < AdminPasswordMinBytes:
		errs.add("password", "must be at least %d bytes", AdminPasswordMinBytes)
	case n > AdminPasswordMaxBytes:
		errs.add("password", "must be at most %d bytes", AdminPasswordMaxBytes)
	case !utf8.ValidString(in.Password):
		errs.add("password", "must be UTF-8 text")
	}
	return errs.err()
}

// AdminSessionStage is how far a sign-in got.
type AdminSessionStage string

const (
	// AdminStageTOTP is the state after a right password: it may only send a TOTP code,
	// for AdminLoginPendingTTL.
	AdminStageTOTP AdminSessionStage = "totp"
	// AdminStageActive is a signed-in session. It is always a new session, with a new
	// id and secret: the state of the password step is discarded when the code is
	// accepted, so a secret planted or seen before sign-in is worth nothing after it.
	AdminStageActive AdminSessionStage = "active"
)

// AdminSession is a browser's session of the admin console. The store keeps only the
// SHA-256 of its cookie secret.
type AdminSession struct {
	ID     string            `json:"id"`
	UserID string            `json:"user"`
	Stage  AdminSessionStage `json:"stage"`
	// CSRFToken is sent with every form of the session and compared on every POST.
	CSRFToken  string    `json:"-"`
	CreatedAt  time.Time `json:"created_at"`
	LastSeenAt time.Time `json:"last_seen_at"`
	// ExpiresAt is the absolute end: AdminLoginPendingTTL after the password for the
	// TOTP stage, AdminSessionTTL after sign-in for an active session.
	ExpiresAt time.Time `json:"expires_at"`
}

// IdleUntil is when the session ends unless it is used again.
func (s *AdminSession) IdleUntil() time.Time {
	if s.Stage == AdminStageTOTP {
		return s.ExpiresAt
	}
	return s.LastSeenAt.Add(AdminSessionIdleTTL)
}
