package portal

import "net/http"

// logout ends the session (POST /portal/logout) and says where to go next: back to the
// platform when the session named its page.
func (h *Handler) logout(w http.ResponseWriter, r *http.Request, v *visit) {
	if err := h.store.EndPortalSession(r.Context(), v.session.ID); err != nil {
		h.fail(w, r, v, err)
		return
	}
	h.clearSessionCookie(w, r)
	h.render(w, r, http.StatusOK, "message.html", nil, layout{Title: "Signed out", ReturnURL: v.session.ReturnURL,
		Content: message{Heading: "You are signed out of Billing", Text: "Your billing session has ended on this device."}})
}
