package admin

import "net/http"

// logout ends the session (POST /admin/logout) and clears its cookie.
func (h *Handler) logout(w http.ResponseWriter, r *http.Request, v *visit) {
	if err := h.store.EndAdminSession(r.Context(), v.session.ID); err != nil {
		h.fail(w, r, v, err)
		return
	}
	h.clearSessionCookie(w, r)
	h.logger.InfoContext(r.Context(), "admin signed out", "operator", v.operator.ID, "session", v.session.ID)
	redirect(w, r, "/admin/login?signed_out=1")
}
