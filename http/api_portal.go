package http

import (
	"context"
	"net/http"
	"net/url"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/billowhq/billow"
)

// portalEnterPath is where a portal session's one-time link opens (package portal).
const portalEnterPath = "/portal/enter"

// portalSession is the answer to POST /v1/portal_sessions.
type portalSession struct {
	ID        string    `json:"id" doc:"The session's id (ps_…)."`
	URL       string    `json:"url" doc:"The one-time link: redirect the member's browser to it. It opens once, within expires_at."`
	ExpiresAt time.Time `json:"expires_at" doc:"When the link stops opening (5 minutes). The session it starts ends after 30 minutes without activity, or 12 hours."`
}

// createPortalSessionIn is the body of POST /v1/portal_sessions, with the address the
// request came to, which the link points at when no public URL is configured.
type createPortalSessionIn struct {
	Body billow.CreatePortalSessionInput
	base string
}

// Resolve keeps the scheme and host the request came to. Behind a proxy that ends TLS
// they are the proxy's view of Billow, which is why BILLOW_PUBLIC_URL wins when set.
func (in *createPortalSessionIn) Resolve(ctx huma.Context) []error {
	scheme := "http"
	if ctx.TLS() != nil {
		scheme = "https"
	}
	in.base = (&url.URL{Scheme: scheme, Host: ctx.Host()}).String()
	return nil
}

func (s *Server) registerPortalSessions() {
	type out struct{ Body portalSession }
	register(s, operation("createPortalSession", http.MethodPost, "/v1/portal_sessions", "Create a portal session", "Portal",
		"Makes a one-time link to the billing portal for a member of an account: the platform's backend calls this, then "+
			"redirects the member's browser to url. Opening the link starts a session in a cookie, bound to the account and "+
			"to the member, whose role decides what it may do (owners and billing members pay; admins and developers read). "+
			"member is a member id or the member's external id; return_url, an absolute http(s) URL, becomes the portal's "+
			"\"Back to …\" link. The link opens once and within 5 minutes. The operator's key may open the portal for any "+
			"account, an account's key for its own. Unknown member: 422 unknown_member."),
		func(ctx context.Context, in *createPortalSessionIn) (*out, error) {
			a, err := s.account(ctx, in.Body.Account)
			if err != nil {
				return nil, err
			}
			sess, token, err := s.store.CreatePortalSession(ctx, a.ID, in.Body)
			if err != nil {
				return nil, err
			}
			base := in.base
			if s.publicURL != "" {
				base = s.publicURL
			}
			link := base + portalEnterPath + "?" + url.Values{"token": {token}}.Encode()
			return &out{Body: portalSession{ID: sess.ID, URL: link, ExpiresAt: sess.LinkExpiresAt}}, nil
		})
}
