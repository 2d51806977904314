package admin

import (
	"crypto/subtle"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/billowhq/billow"
)

// The session cookie. Under TLS it is "__Host-billow_admin": the browser then insists that
// it is Secure, has Path=/ and no Domain, so no other host, and no page served over plain
// HTTP, can set or shadow it. Without TLS (tests, http://localhost) it is "billow_admin",
// without Secure: the cookie of a development setup. It is SameSite=Strict: the console
// is never entered from another site's link with its session, so no other site's page,
// form or fetch can act with it.
//
// The login cookie carries the CSRF token of the sign-in form, before there is a
// session to hold one (a double-submit token): another site cannot sign a browser in
// to an operator of its choosing.
const (
	cookieSecure      = "__Host-billow_admin"
	cookiePlain       = "billow_admin"
	loginCookieSecure = "__Host-billow_admin_login"
	loginCookiePlain  = "billow_admin_login"
	// loginCookieTTL is how long a sign-in form may stay open before it must be
	// reloaded.
	loginCookieTTL = time.Hour
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

func (h *Handler) loginCookieName(r *http.Request) string {
	if h.secure(r) {
		return loginCookieSecure
	}
	return loginCookiePlain
}

// setSessionCookie hands the browser a session's secret: HttpOnly (no script reads it),
// SameSite=Strict, and gone when the session's absolute expiry passes.
func (h *Handler) setSessionCookie(w http.ResponseWriter, r *http.Request, s *billow.AdminSession, secret string) {
	// Max-Age rather than Expires: it counts from the browser's receipt, so it holds when
	// the server's clock (a test clock among others) is not the browser's.
	maxAge := max(1, int((s.ExpiresAt.Sub(h.clock.Now())+time.Second-1)/time.Second))
	http.SetCookie(w, &http.Cookie{Name: h.cookieName(r), Value: secret, Path: "/", MaxAge: maxAge, HttpOnly: true,
		SameSite: http.SameSiteStrictMode, Secure: h.secure(r)})
}

func (h *Handler) clearSessionCookie(w http.ResponseWriter, r *http.Request) {
	http.SetCookie(w, &http.Cookie{Name: h.cookieName(r), Value: "", Path: "/", MaxAge: -1, HttpOnly: true,
		SameSite: http.SameSiteStrictMode, Secure: h.secure(r)})
}

// loginToken returns the sign-in form's CSRF token from its cookie, or sets a new one.
func (h *Handler) loginToken(w http.ResponseWriter, r *http.Request) string {
	if c, err := r.Cookie(h.loginCookieName(r)); err == nil && len(c.Value) == 43 {
		return c.Value
	}
	token := billow.NewPortalToken()
	http.SetCookie(w, &http.Cookie{Name: h.loginCookieName(r), Value: token, Path: "/", MaxAge: int(loginCookieTTL / time.Second),
		HttpOnly: true, SameSite: http.SameSiteStrictMode, Secure: h.secure(r)})
	return token
}

// validLoginToken reports whether the sign-in form carries its cookie's token.
func (h *Handler) validLoginToken(r *http.Request) bool {
	c, err := r.Cookie(h.loginCookieName(r))
	return err == nil && validCSRF(r.PostForm.Get("csrf"), c.Value)
}

// currentSession reads the request's session, in either stage, or nil.
func (h *Handler) currentSession(r *http.Request) (*billow.AdminSession, error) {
	c, err := r.Cookie(h.cookieName(r))
	if err != nil || c.Value == "" {
		return nil, billow.Errorf(billow.KindUnauthorized, billow.CodeUnauthorized, "no admin session")
	}
	return h.store.AdminSession(r.Context(), c.Value)
}

// withOperator runs a page or action for a signed-in operator. A request without a
// session is sent to sign in, and back here after; one half-way through signing in is
// sent to the code step. Every method but GET must carry the session's CSRF token in
// the form field "csrf" and, if the browser names an Origin, come from this one.
func (h *Handler) withOperator(next func(http.ResponseWriter, *http.Request, *visit)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		s, err := h.currentSession(r)
		if billow.ErrorKindOf(err) == billow.KindUnauthorized {
			if _, e := r.Cookie(h.cookieName(r)); e == nil {
				h.clearSessionCookie(w, r)
			}
			to := "/admin/login"
			if r.Method == http.MethodGet && r.URL.Path != "/admin/" {
				to += "?next=" + url.QueryEscape(r.URL.RequestURI())
			}
			redirect(w, r, to)
			return
		}
		if err != nil {
			h.fail(w, r, nil, err)
			return
		}
		if s.Stage != billow.AdminStageActive {
			redirect(w, r, "/admin/login/code")
			return
		}
		u, err := h.store.AdminUser(r.Context(), s.UserID)
		if err != nil {
			h.fail(w, r, nil, err)
			return
		}
		v := &visit{session: s, operator: u}
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			if !h.readForm(w, r, v) {
				return
			}
			if !h.sameOrigin(r) || !validCSRF(r.PostForm.Get("csrf"), s.CSRFToken) {
				h.forbidden(w, r, v)
				return
			}
		}
		next(w, r, v)
	}
}

// withPending runs the code step of a sign-in: a session in the TOTP stage. Without one
// the browser goes back to the password step; a signed-in operator goes to the console.
func (h *Handler) withPending(next func(http.ResponseWriter, *http.Request, *billow.AdminSession)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		s, err := h.currentSession(r)
		if billow.ErrorKindOf(err) == billow.KindUnauthorized {
			h.clearSessionCookie(w, r)
			redirect(w, r, "/admin/login?expired=1")
			return
		}
		if err != nil {
			h.fail(w, r, nil, err)
			return
		}
		if s.Stage == billow.AdminStageActive {
			redirect(w, r, "/admin/accounts")
			return
		}
		if r.Method == http.MethodPost {
			if !h.readForm(w, r, nil) {
				return
			}
			if !h.sameOrigin(r) || !validCSRF(r.PostForm.Get("csrf"), s.CSRFToken) {
				h.forbidden(w, r, nil)
				return
			}
		}
		next(w, r, s)
	}
}

// readForm reads a posted form of at most FormBodyMaxBytes; false when it answered.
func (h *Handler) readForm(w http.ResponseWriter, r *http.Request, v *visit) bool {
	r.Body = http.MaxBytesReader(w, r.Body, FormBodyMaxBytes)
	if err := r.ParseForm(); err != nil {
		h.render(w, r, http.StatusBadRequest, "message.html", v, layout{Title: "Bad request",
			Content: message{Heading: "Bad request", Text: "The form could not be read.", Back: "/admin/accounts"}})
		return false
	}
	return true
}

// forbidden refuses a form that did not come from a page of this session.
func (h *Handler) forbidden(w http.ResponseWriter, r *http.Request, v *visit) {
	back := "/admin/login"
	if v != nil {
		back = "/admin/accounts"
	}
	h.render(w, r, http.StatusForbidden, "message.html", v, layout{Title: "Not allowed",
		Content: message{Heading: "This form has expired", Back: back,
			Text: "The form did not come from a page of your session, or the session changed since it was shown. Reload the page and try again."}})
}

// validCSRF compares a form's token with the expected one in constant time, so that
// the time of a refusal says nothing about how much of a guess was right.
func validCSRF(got, want string) bool {
	return want != "" && len(got) == len(want) && subtle.ConstantTimeCompare([]byte(got), []byte(want)) == 1
}

// sameOrigin reports whether the request's Origin, when the browser sends one, is the
// console's own host: the request's, or the public URL's behind a proxy.
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

// safeNext returns where to go after sign-in: a path of the console the request named,
// or the accounts. Anything else (another host, a scheme, the sign-in itself) is
// ignored, so a link cannot send a freshly signed-in operator elsewhere.
func safeNext(next string) string {
	const home = "/admin/accounts"
	if !strings.HasPrefix(next, "/admin/") || strings.HasPrefix(next, "/admin/login") || strings.ContainsAny(next, "\\\r\n") || len(next) > 2048 {
		return home
	}
	u, err := url.Parse(next)
	if err != nil || u.Scheme != "" || u.Host != "" || u.User != nil || strings.HasPrefix(u.Path, "//") {
		return home
	}
	return next
}
