package portal

import (
	"crypto/subtle"
	"net/http"
	"net/url"
	"time"

	"github.com/billowhq/billow"
)

// The session cookie. Under TLS it is "__Host-billow_portal": the browser then insists
// that it is Secure, has Path=/ and no Domain, so no other host, and no page served over
// plain HTTP, can set or shadow it. Browsers refuse a __Host- cookie that is not
// Secure, and a Secure cookie is not sent over plain HTTP, so without TLS (tests,
// http://localhost) the cookie is "billow_portal", without Secure; it is the cookie of
// a development setup, never one a customer's browser should see in production, where
// BILLOW_PUBLIC_URL is https.
const (
	cookieSecure = "__Host-billow_portal"
	cookiePlain  = "billow_portal"
)

// secure reports whether the request reached Billow over TLS, directly or through a
// proxy in front of a public URL that is https.
func (h *Handler) secure(r *http.Request) bool {
	return r.TLS != nil || (h.publicURL != nil && h.publicURL.Scheme == "https")
}

func (h *Handler) cookieName(r *http.Request) string {
	if h.secure(r) {
		return cookieSecure
	}
	return cookiePlain
}

// setSessionCookie hands the browser the session's secret: HttpOnly (no script reads
// it), SameSite=Lax (no other site's form or fetch sends it), and gone when the session's
// absolute expiry passes.
func (h *Handler) setSessionCookie(w http.ResponseWriter, r *http.Request, s *billow.PortalSession, secret string) {
	c := &http.Cookie{Name: h.cookieName(r), Value: secret, Path: "/", HttpOnly: true, SameSite: http.SameSiteLaxMode,
		Secure: h.secure(r)}
	if s.ExpiresAt != nil {
		// Max-Age rather than Expires: it counts from the browser's receipt, so it holds
		// when the server's clock (a test clock among others) is not the browser's.
		c.MaxAge = max(1, int((s.ExpiresAt.Sub(h.clock.Now())+time.Second-1)/time.Second))
	}
	http.SetCookie(w, c)
}

func (h *Handler) clearSessionCookie(w http.ResponseWriter, r *http.Request) {
	http.SetCookie(w, &http.Cookie{Name: h.cookieName(r), Value: "", Path: "/", MaxAge: -1, HttpOnly: true,
		SameSite: http.SameSiteLaxMode, Secure: h.secure(r)})
}

// currentVisit reads the request's session, its account and its member.
//
// Errors: unauthorized (no cookie, or a session that has ended).
func (h *Handler) currentVisit(r *http.Request) (*visit, error) {
	c, err := r.Cookie(h.cookieName(r))
	if err != nil || c.Value == "" {
		return nil, billow.Errorf(billow.KindUnauthorized, billow.CodeUnauthorized, "no billing session")
	}
	s, err := h.store.PortalSession(r.Context(), c.Value)
	if err != nil {
		return nil, err
	}
	a, err := h.store.Account(r.Context(), s.AccountID)
	if err != nil {
		return nil, err
	}
	m, err := h.store.Member(r.Context(), a.ID, s.MemberID)
	if err != nil {
		return nil, err
	}
	return &visit{session: s, account: a, member: m}, nil
}

// withVisit runs a page or action with the request's session. A request without one
// gets the "session ended" page. Every method but GET must carry the session's CSRF
// token in the form field "csrf" and, if the browser names an Origin, come from this
// one: a state change can only come from a page the portal served to this session.
func (h *Handler) withVisit(next func(http.ResponseWriter, *http.Request, *visit)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		v, err := h.currentVisit(r)
		if err != nil {
			if billow.ErrorKindOf(err) == billow.KindUnauthorized {
				h.clearSessionCookie(w, r)
			}
			h.fail(w, r, nil, err)
			return
		}
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			r.Body = http.MaxBytesReader(w, r.Body, FormBodyMaxBytes)
			if err := r.ParseForm(); err != nil {
				h.render(w, r, http.StatusBadRequest, "message.html", v, layout{Title: "Bad request",
					Content: message{Heading: "Bad request", Text: "The form could not be read.", Back: "/portal/"}})
				return
			}
			if !h.sameOrigin(r) || !validCSRF(r.PostForm.Get("csrf"), v.session.CSRFToken) {
				h.forbidden(w, r, v, "This form has expired or did not come from this page. Reload the page and try again.")
				return
			}
		}
		next(w, r, v)
	}
}

// validCSRF compares a form's token with the session's in constant time, so that the
// time of a refusal says nothing about how much of a guess was right.
func validCSRF(got, want string) bool {
	return want != "" && len(got) == len(want) && subtle.ConstantTimeCompare([]byte(got), []byte(want)) == 1
}

// sameOrigin reports whether the request's Origin, when the browser sends one, is the
// portal's own host: the request's, or the public URL's behind a proxy.
func (h *Handler) sameOrigin(r *http.Request) bool {
	origin := r.Header.Get("Origin")
	if origin == "" {
		return true // older browsers; the CSRF token still stands
	}
	u, err := url.Parse(origin)
	if err != nil || u.Host == "" {
		return false // "null" among others: a sandboxed or privacy-redirected page
	}
	return u.Host == r.Host || (h.publicURL != nil && u.Host == h.publicURL.Host)
}

// requirePayer lets through only members who may pay and change the plan: owners and
// billing members. Developers and admins read.
func (h *Handler) requirePayer(next func(http.ResponseWriter, *http.Request, *visit)) func(http.ResponseWriter, *http.Request, *visit) {
	return func(w http.ResponseWriter, r *http.Request, v *visit) {
		if !v.canPay() {
			h.forbidden(w, r, v, "Your role ("+string(v.session.Role)+") can view billing but not pay or change the plan. "+
				"Ask an owner or a billing member of your account.")
			return
		}
		next(w, r, v)
	}
}
