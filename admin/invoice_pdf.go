package admin

import (
	"mime"
	"net/http"

	"github.com/billowhq/billow/pdf"
)

// invoicePDF downloads any account's invoice (GET /admin/invoices/{invoice}/pdf): the PDF
// the API serves at GET /v1/invoices/{invoice}/pdf, rendered by the same pdf.Render with
// the same branding, under the same name. The operator sees hidden invoices too; a draft
// has no PDF (pdf.Render refuses it: 409).
func (h *Handler) invoicePDF(w http.ResponseWriter, r *http.Request, v *visit) {
	inv, err := h.store.Invoice(r.Context(), r.PathValue("invoice"))
	if err != nil {
		h.fail(w, r, v, err)
		return
	}
	doc, err := pdf.Render(inv, h.branding)
	if err != nil {
		h.fail(w, r, v, err)
		return
	}
	w.Header().Set("Content-Type", "application/pdf")
	w.Header().Set("Content-Disposition", mime.FormatMediaType("attachment", map[string]string{"filename": pdf.FileName(inv)}))
	w.Write(doc)
}
