package portal

import (
	"net/http"

	"github.com/billowhq/billow"
)

// enter opens a one-time link (GET /portal/enter?token=…): it starts the session, sets
// its cookie and sends the browser on to the Plan & Usage page, so that the token leaves
// the address bar and the history at once. A link opens once; a second visit, or one
// after billow.PortalLinkTTL, is refused without saying which.
func (h *Handler) enter(w http.ResponseWriter, r *http.Request) {
	s, secret, err := h.store.EnterPortal(r.Context(), r.URL.Query().Get("token"))
	if billow.ErrorCode(err) == billow.CodePortalLinkInvalid {
		h.signedOut(w, r, http.StatusUnauthorized, "This billing link has expired",
			"Billing links work once and for a few minutes. Open Billing again from the platform to get a new one.")
		return
	}
	if err != nil {
		h.fail(w, r, nil, err)
		return
	}
	h.setSessionCookie(w, r, s, secret)
	h.logger.InfoContext(r.Context(), "portal session started", "session", s.ID, "account", s.AccountID, "member", s.MemberID, "role", s.Role)
	redirect(w, r, "/portal/")
}
