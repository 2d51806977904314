package admin

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/billowhq/billow"
)

// loginForm is the content of the password step.
type loginForm struct {
	CSRF  string
	Email string
	Next  string
}

// login shows the password step (GET /admin/login). A signed-in operator goes on to the
// console.
func (h *Handler) login(w http.ResponseWriter, r *http.Request) {
	if s, err := h.currentSession(r); err == nil && s.Stage == billow.AdminStageActive {
		redirect(w, r, safeNext(r.URL.Query().Get("next")))
		return
	}
	l := layout{Title: "Sign in"}
	if r.URL.Query().Get("expired") != "" {
		l.Notice = "Your sign-in expired. Start again with your email and password."
	}
	if r.URL.Query().Get("signed_out") != "" {
		l.Notice = "You are signed out."
	}
	h.renderLogin(w, r, http.StatusOK, l, "")
}

func (h *Handler) renderLogin(w http.ResponseWriter, r *http.Request, status int, l layout, email string) {
	next := r.URL.Query().Get("next")
	if r.Method == http.MethodPost {
		next = r.PostForm.Get("next")
	}
	l.Title = "Sign in"
	l.Content = loginForm{CSRF: h.loginToken(w, r), Email: email, Next: safeNext(next)}
	h.render(w, r, status, "login.html", nil, l)
}

// wrongCredentials is what a wrong email or password is told: which one was wrong is not
// said, so the form does not confirm who is an operator.
const wrongCredentials = "The email or password is not right."

// loginSubmit checks the email and password (POST /admin/login). A right password starts
// the code step: a short session that may only send a TOTP code. A wrong one counts
// towards the operator's lockout (billow.AdminLoginFailuresMax in
// billow.AdminLoginFailureWindow); a locked operator is refused without the password
// being checked.
func (h *Handler) loginSubmit(w http.ResponseWriter, r *http.Request) {
	if !h.readForm(w, r, nil) {
		return
	}
	if !h.sameOrigin(r) || !h.validLoginToken(r) {
		h.forbidden(w, r, nil)
		return
	}
	ctx := r.Context()
	email := strings.TrimSpace(r.PostForm.Get("email"))
	password := r.PostForm.Get("password")
	if email == "" || password == "" {
		h.renderLogin(w, r, http.StatusUnprocessableEntity, layout{Error: "Enter your email and your password."}, email)
		return
	}
	u, err := h.store.AdminUserByEmail(ctx, email)
	if billow.ErrorCode(err) == billow.CodeNotFound {
		h.checkPassword(r, h.dummyHash, password) // as long as for an operator
		h.logger.WarnContext(ctx, "admin sign-in refused", "reason", "unknown_email")
		h.renderLogin(w, r, http.StatusUnauthorized, layout{Error: wrongCredentials}, email)
		return
	}
	if err != nil {
		h.fail(w, r, nil, err)
		return
	}
	if u.Locked(h.clock.Now()) {
		h.lockedOut(w, r, u, email)
		return
	}
	ok, err := h.checkPassword(r, u.PasswordHash, password)
	if err != nil {
		h.fail(w, r, nil, err)
		return
	}
	if !ok {
		h.loginFailed(w, r, u, "wrong_password", func(u *billow.AdminUser) {
			h.renderLogin(w, r, http.StatusUnauthorized, layout{Error: wrongCredentials}, email)
		})
		return
	}
	// A session the browser held before (another operator's, or one planted in it) ends:
	// the sign-in starts from nothing.
	if old, err := h.currentSession(r); err == nil {
		if err := h.store.EndAdminSession(ctx, old.ID); err != nil {
			h.fail(w, r, nil, err)
			return
		}
	}
	s, secret, err := h.store.StartAdminLogin(ctx, u.ID)
	if err != nil {
		h.fail(w, r, nil, err)
		return
	}
	h.setSessionCookie(w, r, s, secret)
	to := "/admin/login/code"
	if next := safeNext(r.PostForm.Get("next")); next != "/admin/accounts" {
		to += "?next=" + url.QueryEscape(next)
	}
	redirect(w, r, to)
}

// checkPassword verifies a password against a PHC string, at most
// passwordChecksConcurrentMax at a time, and gives up when the request is gone.
func (h *Handler) checkPassword(r *http.Request, encoded, password string) (bool, error) {
	if len(password) > billow.AdminPasswordMaxBytes {
		return false, nil // longer than any password: not worth hashing
	}
	select {
	case h.hashSlots <- struct{}{}:
		defer func() { <-h.hashSlots }()
	case <-r.Context().Done():
		return false, r.Context().Err()
	}
	return VerifyPassword(encoded, password)
}

// loginFailed counts a failure of the operator and answers: the lockout page when this
// failure locked them out, else refuse.
func (h *Handler) loginFailed(w http.ResponseWriter, r *http.Request, u *billow.AdminUser, reason string, refuse func(*billow.AdminUser)) {
	u, err := h.store.RecordAdminLoginFailure(r.Context(), u.ID)
	if err != nil {
		h.fail(w, r, nil, err)
		return
	}
	locked := u.Locked(h.clock.Now())
	h.logger.WarnContext(r.Context(), "admin sign-in refused", "operator", u.ID, "reason", reason, "locked", locked)
	if locked {
		h.lockedOut(w, r, u, u.Email)
		return
	}
	refuse(u)
}

// lockedOut answers 429 with when the operator may try again.
func (h *Handler) lockedOut(w http.ResponseWriter, r *http.Request, u *billow.AdminUser, email string) {
	if s, err := h.currentSession(r); err == nil {
		// A half-done sign-in ends with the lockout. Failing to end it is logged, not
		// shown: the lockout holds whatever the session's state.
		if err := h.store.EndAdminSession(r.Context(), s.ID); err != nil {
			h.logger.ErrorContext(r.Context(), "end the session of a locked operator", "session", s.ID, "error", err)
		}
		h.clearSessionCookie(w, r)
	}
	wait := max(1, int(u.LockedUntil.Sub(h.clock.Now()).Minutes()+0.999))
	w.Header().Set("Retry-After", strconv.Itoa(wait*60))
	h.renderLogin(w, r, http.StatusTooManyRequests, layout{Error: "Too many failed sign-in attempts. For your security this operator is locked for " +
		plural(wait, "minute") + " (until " + u.LockedUntil.UTC().Format("15:04") + " UTC). Try again then."}, email)
}
