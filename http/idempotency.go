package http

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/billowhq/billow"
	"github.com/billowhq/billow/sqlstore"
)

// Idempotency limits, named with their unit last.
const (
	// IdempotencyKeyMaxBytes bounds the Idempotency-Key header.
	IdempotencyKeyMaxBytes = 255
	// IdempotencyKeyTTL is how long a key and its answer are kept: at least 24 hours.
	IdempotencyKeyTTL = 24 * time.Hour
	// idempotencyLockFor is how long a claimed key stays "in use" when its request never
	// completes (the process died). It is longer than any request may run.
	idempotencyLockFor = 2 * time.Minute
	// idempotentResponseMaxBytes bounds a stored answer; POST answers are small resources.
	idempotentResponseMaxBytes = 1 << 20
)

// IdempotencyStore keeps idempotency keys and their answers.
type IdempotencyStore interface {
	ClaimIdempotencyKey(ctx context.Context, principal, key, requestHash string, lockFor, keepFor time.Duration) (sqlstore.Claim, error)
	CompleteIdempotencyKey(ctx context.Context, principal, key string, resp sqlstore.IdempotentResponse) error
	ReleaseIdempotencyKey(ctx context.Context, principal, key string) error
}

// idempotent gives every POST under /v1 the Idempotency-Key semantics: the same key with
// the same request answers with the first answer, without running the request again; the
// same key with another request is 409 idempotency_key_reused; a key whose request is
// still running is 409 idempotency_key_in_use. Keys are per principal. Answers of 5xx are
// not kept, so that a retry after a fault runs again.
func (s *Server) idempotent(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		key := r.Header.Get("Idempotency-Key")
		if r.Method != http.MethodPost || key == "" || !strings.HasPrefix(r.URL.Path, "/v1/") {
			next.ServeHTTP(w, r)
			return
		}
		if len(key) > IdempotencyKeyMaxBytes || strings.ContainsFunc(key, func(c rune) bool { return c < 0x20 || c > 0x7e }) {
			writeProblem(w, r, newProblem(http.StatusBadRequest, billow.CodeIdempotencyKeyFormat,
				"Idempotency-Key must be 1 to 255 printable ASCII characters"))
			return
		}
		body, err := io.ReadAll(r.Body)
		if err != nil {
			var tooLarge *http.MaxBytesError
			if errors.As(err, &tooLarge) {
				writeProblem(w, r, newProblem(http.StatusRequestEntityTooLarge, billow.CodeRequestTooLarge,
					"the request body is larger than "+strconv.FormatInt(tooLarge.Limit, 10)+" bytes"))
				return
			}
			writeProblem(w, r, newProblem(http.StatusBadRequest, "malformed_request", "could not read the request body"))
			return
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		who := principal(r.Context()).KeyID
		claim, err := s.store.ClaimIdempotencyKey(r.Context(), who, key, requestHash(r, body), idempotencyLockFor, IdempotencyKeyTTL)
		if err != nil {
			writeProblem(w, r, problemFor(r.Context(), s.logger, err))
			return
		}
		if !claim.Claimed {
			w.Header().Set("Idempotent-Replayed", "true")
			if claim.Response.ContentType != "" {
				w.Header().Set("Content-Type", claim.Response.ContentType)
			}
			w.WriteHeader(claim.Response.Status)
			w.Write(claim.Response.Body)
			return
		}
		rec := &recorder{ResponseWriter: w, keepBody: true}
		completed := false
		defer func() {
			// Runs on a panic too: the key is released so a retry is not locked out.
			if completed {
				return
			}
			ctx := context.WithoutCancel(r.Context())
			if err := s.store.ReleaseIdempotencyKey(ctx, who, key); err != nil {
				s.logger.ErrorContext(ctx, "release idempotency key", "error", err, "request_id", requestIDFrom(ctx))
			}
		}()
		next.ServeHTTP(rec, r)
		// A server error or a 429 did nothing the client must not repeat: the key is
		// released, and the same request may be sent again under it (a 429 once the
		// Retry-After has passed).
		if rec.status >= 500 || rec.status == http.StatusTooManyRequests || rec.overflow {
			return
		}
		// The client may have gone; the answer must be kept all the same.
		ctx := context.WithoutCancel(r.Context())
		err = s.store.CompleteIdempotencyKey(ctx, who, key, sqlstore.IdempotentResponse{
			Status: rec.status, ContentType: rec.Header().Get("Content-Type"), Body: rec.body.Bytes()})
		if err != nil {
			s.logger.ErrorContext(ctx, "store idempotent answer", "error", err, "request_id", requestIDFrom(ctx))
			return
		}
		completed = true
	})
}

// requestHash identifies a request for key reuse: method, path, query and body. It is an
// HMAC keyed with the caller's credential (the Authorization header), not a plain hash:
// a body may hold a card number and its CVC, and a plain SHA-256 of so little entropy
// could be reversed by trying every number (the stored answer even shows the card's
// brand, last four digits and expiry). The credential itself is never stored, only its
// hash, so the stored value reveals nothing of the body; keys are per principal, whose
// credential does not change, so a retry computes the same value.
func requestHash(r *http.Request, body []byte) string {
	h := hmac.New(sha256.New, []byte(r.Header.Get("Authorization")))
	io.WriteString(h, r.Method+" "+r.URL.Path+"?"+r.URL.RawQuery+"\n")
	h.Write(body)
	return hex.EncodeToString(h.Sum(nil))
}
