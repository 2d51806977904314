package billow

import (
	"crypto/rand"
	"encoding/base64"
	"net/url"
	"strings"
	"time"
	"unicode"
)

// PrefixPortalSession begins the id of a portal session.
const PrefixPortalSession = "ps_"

// Limits of portal sessions, named with their unit last. A portal session starts as a
// one-time link the platform's backend asks for and hands to its user; opening the link
// turns it into a session held in a cookie.
const (
	// PortalLinkTTL is how long a link may wait to be opened: long enough for a redirect,
	// too short to be worth stealing from a log.
	PortalLinkTTL = 5 * time.Minute
	// PortalSessionIdleTTL ends a session nobody used for this long.
	PortalSessionIdleTTL = 30 * time.Minute
	// PortalSessionTTL ends a session this long after it began, used or not: a card
	// may be paid with it, so a forgotten tab does not stay signed in for days.
	PortalSessionTTL = 12 * time.Hour
	// PortalTokenBytes is the randomness of a link token and of a session's cookie
	// secret and CSRF token (256 bits).
	PortalTokenBytes = 32
	// ReturnURLMaxBytes bounds the return URL of a session.
	ReturnURLMaxBytes = 2048
)

// CodePortalLinkInvalid refuses a portal link that does not exist, was opened already or
// has expired: the three are not told apart, so a guess learns nothing.
const CodePortalLinkInvalid = "portal_link_invalid"

// PortalSession is a member's visit to the billing portal: bound to one account and to
// the member, whose role decides what the session may do. The store keeps only hashes of
// the link token and of the cookie secret.
type PortalSession struct {
	ID        string `json:"id"`
	AccountID string `json:"account"`
	MemberID  string `json:"member"`
	// Role is the member's role as the store last read it: a session follows a change of
	// role at once, and ends when the member is removed.
	Role Role `json:"role"`
	// ReturnURL is where "Back to …" leads: the platform's own page, or "".
	ReturnURL string `json:"return_url,omitempty"`
	// CSRFToken is sent with every form of the session and compared on every POST.
	CSRFToken string `json:"-"`
	// LinkExpiresAt is when the one-time link stops opening.
	LinkExpiresAt time.Time `json:"link_expires_at"`
	// EnteredAt is when the link was opened; nil while it waits.
	EnteredAt  *time.Time `json:"entered_at,omitempty"`
	LastSeenAt *time.Time `json:"last_seen_at,omitempty"`
	// ExpiresAt is the absolute end of an entered session (EnteredAt + PortalSessionTTL).
	ExpiresAt *time.Time `json:"expires_at,omitempty"`
	CreatedAt time.Time  `json:"created_at"`
}

// IdleUntil is when the session ends unless it is used again.
func (s *PortalSession) IdleUntil() time.Time {
	if s.LastSeenAt == nil {
		return s.LinkExpiresAt
	}
	return s.LastSeenAt.Add(PortalSessionIdleTTL)
}

// CreatePortalSessionInput asks for a one-time link to the portal for a member of an
// account.
type CreatePortalSessionInput struct {
	Account   string `json:"account" maxLength:"255" doc:"Account id (acct_…) or external id."`
	Member    string `json:"member" maxLength:"255" doc:"The member who will use the portal: a member id (mem_…) or the member's external id. Their role decides what the session may do."`
	ReturnURL string `json:"return_url,omitempty" maxLength:"2048" doc:"An absolute http(s) URL of the platform, shown as the portal's \"Back to …\" link."`
}

// Validate reports every invalid field at once.
func (in *CreatePortalSessionInput) Validate() error {
	in.Account = strings.TrimSpace(in.Account)
	in.Member = strings.TrimSpace(in.Member)
	in.ReturnURL = strings.TrimSpace(in.ReturnURL)
	var errs fieldErrors
	if in.Account == "" {
		errs.add("account", "is required")
	} else if len(in.Account) > ExternalIDMaxBytes {
		errs.add("account", "must be at most %d bytes", ExternalIDMaxBytes)
	}
	if in.Member == "" {
		errs.add("member", "is required")
	} else if len(in.Member) > ExternalIDMaxBytes {
		errs.add("member", "must be at most %d bytes", ExternalIDMaxBytes)
	}
	if in.ReturnURL != "" {
		if msg := checkReturnURL(in.ReturnURL); msg != "" {
			errs.add("return_url", "%s", msg)
		}
	}
	return errs.err()
}

// checkReturnURL says what is wrong with a return URL, or "". Only absolute http and https
// URLs pass: the link is shown in the portal, and javascript: or a relative path there
// would run in, or lead around, the portal's own origin.
func checkReturnURL(raw string) string {
	if len(raw) > ReturnURLMaxBytes {
		return "must be at most 2048 bytes"
	}
	if strings.ContainsFunc(raw, unicode.IsControl) || strings.ContainsAny(raw, " \\") {
		return "must be a URL without spaces, backslashes or control characters"
	}
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.Opaque != "" {
		return "must be an absolute http or https URL, such as https://app.example.com/settings/billing"
	}
	if u.User != nil {
		return "must not hold a user name or password"
	}
	return ""
}

// NewPortalToken returns a new random token for a portal link, a session cookie or a CSRF
// token: PortalTokenBytes of randomness, base64url without padding (43 characters), safe
// in a URL, a cookie and a form.
func NewPortalToken() string {
	b := make([]byte, PortalTokenBytes)
	if _, err := rand.Read(b); err != nil {
		panic(err) // crypto/rand never fails on supported platforms
	}
	return base64.RawURLEncoding.EncodeToString(b)
}
