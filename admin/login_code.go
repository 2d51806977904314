package admin

import (
	"net/http"
	"strings"

	"github.com/billowhq/billow"
)

// codeForm is the content of the code step.
type codeForm struct {
	CSRF  string
	Email string
	Next  string
}

// loginCode shows the code step (GET /admin/login/code) of a sign-in whose password was
// right.
func (h *Handler) loginCode(w http.ResponseWriter, r *http.Request, s *billow.AdminSession) {
	h.renderCode(w, r, s, http.StatusOK, "")
}

func (h *Handler) renderCode(w http.ResponseWriter, r *http.Request, s *billow.AdminSession, status int, problem string) {
	u, err := h.store.AdminUser(r.Context(), s.UserID)
	if err != nil {
		h.fail(w, r, nil, err)
		return
	}
	next := r.URL.Query().Get("next")
	if r.Method == http.MethodPost {
		next = r.PostForm.Get("next")
	}
	h.render(w, r, status, "login_code.html", nil, layout{Title: "Two-step verification", Error: problem,
		Content: codeForm{CSRF: s.CSRFToken, Email: u.Email, Next: safeNext(next)}})
}

// loginCodeSubmit checks the TOTP code (POST /admin/login/code). A right code that was
// not used before signs in: the code step's session is replaced by a new one, with a new
// id, secret and CSRF token (CompleteAdminLogin), so nothing seen or set before sign-in
// is worth anything after it. A wrong or replayed code counts towards the lockout like a
// wrong password.
func (h *Handler) loginCodeSubmit(w http.ResponseWriter, r *http.Request, s *billow.AdminSession) {
	ctx := r.Context()
	u, err := h.store.AdminUser(ctx, s.UserID)
	if err != nil {
		h.fail(w, r, nil, err)
		return
	}
	now := h.clock.Now()
	if u.Locked(now) {
		h.lockedOut(w, r, u, u.Email)
		return
	}
	code := strings.Join(strings.Fields(r.PostForm.Get("code")), "") // "123 456" as some apps show it
	step, err := checkTOTP(u.TOTPSecret, code, now)
	if err != nil {
		h.fail(w, r, nil, err)
		return
	}
	if step == 0 || replayedStep(step, u.TOTPLastStep) {
		reason, problem := "wrong_code", "That code is not right. Enter the 6-digit code your authenticator app shows now."
		if step != 0 {
			reason, problem = "replayed_code", "That code was used already. Wait for your authenticator app to show the next one."
		}
		h.loginFailed(w, r, u, reason, func(*billow.AdminUser) {
			h.renderCode(w, r, s, http.StatusUnauthorized, problem)
		})
		return
	}
	active, secret, err := h.store.CompleteAdminLogin(ctx, s.ID, step)
	switch {
	case err == nil:
	case billow.ErrorCode(err) == billow.CodeAdminTOTPReplayed: // a concurrent sign-in used the code first
		h.loginFailed(w, r, u, "replayed_code", func(*billow.AdminUser) {
			h.renderCode(w, r, s, http.StatusUnauthorized, "That code was used already. Wait for your authenticator app to show the next one.")
		})
		return
	case billow.ErrorCode(err) == billow.CodeAdminLocked:
		h.lockedOut(w, r, u, u.Email)
		return
	case billow.ErrorCode(err) == billow.CodeUnauthorized:
		h.clearSessionCookie(w, r)
		redirect(w, r, "/admin/login?expired=1")
		return
	default:
		h.fail(w, r, nil, err)
		return
	}
	h.setSessionCookie(w, r, active, secret)
	h.logger.InfoContext(ctx, "admin signed in", "operator", u.ID, "email", u.Email, "session", active.ID)
	redirect(w, r, safeNext(r.PostForm.Get("next")))
}
