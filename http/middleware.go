package http

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"fmt"
	"log/slog"
	"net/http"
	"runtime/debug"
	"strings"
	"time"

	"github.com/billowhq/billow"
)

type ctxKey int

const (
	ctxRequestID ctxKey = iota
	ctxPrincipal
	ctxFacts
)

// Limits of the HTTP layer, named with their unit last.
const (
	// RequestBodyMaxBytes bounds every request body unless an operation sets its own.
	RequestBodyMaxBytes = 1 << 20
	requestIDMaxBytes   = 128
)

// bodyMaxBytes is the body limit of a path: ingest carries batches, the rest resources.
func bodyMaxBytes(path string) int64 {
	if path == "/v1/events" {
		return billow.EventsBodyMaxBytes
	}
	return RequestBodyMaxBytes
}

// BootstrapKeyID is the key id of the operator key given by BILLOW_ADMIN_KEY.
const BootstrapKeyID = "key_bootstrap"

func requestIDFrom(ctx context.Context) string {
	id, _ := ctx.Value(ctxRequestID).(string)
	return id
}

// PrincipalFrom returns who is calling; the zero Principal when nobody authenticated.
func PrincipalFrom(ctx context.Context) (billow.Principal, bool) {
	p, ok := ctx.Value(ctxPrincipal).(billow.Principal)
	return p, ok
}

// requestFacts carries what inner handlers learn back out to observe, for the log and
// metrics: inner middlewares replace the request (and its context), so observe cannot
// read them off its own.
type requestFacts struct {
	route string // the mux pattern that matched
	keyID string // the authenticated key
}

// recorder passes an answer through and remembers its status and size for the log and
// metrics. With keepBody it also keeps a copy of the body, up to
// idempotentResponseMaxBytes, for the idempotency store; overflow says it did not fit.
type recorder struct {
	http.ResponseWriter
	status   int
	bytes    int
	keepBody bool
	body     bytes.Buffer
	overflow bool
}

func (rec *recorder) WriteHeader(code int) {
	if rec.status == 0 {
		rec.status = code
	}
	rec.ResponseWriter.WriteHeader(code)
}

func (rec *recorder) Write(b []byte) (int, error) {
	if rec.status == 0 {
		rec.status = http.StatusOK
	}
	if rec.keepBody {
		if rec.body.Len()+len(b) > idempotentResponseMaxBytes {
			rec.overflow = true
		} else {
			rec.body.Write(b)
		}
	}
	n, err := rec.ResponseWriter.Write(b)
	rec.bytes += n
	return n, err
}

func (rec *recorder) Unwrap() http.ResponseWriter { return rec.ResponseWriter }

// observe gives each request an id, recovers a panic into a 500 problem, bounds the body,
// and writes one access log line and the request metrics when the answer is done.
func (s *Server) observe(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now() // wall time for latency, not the billing clock
		id := r.Header.Get("X-Request-Id")
		if id == "" || len(id) > requestIDMaxBytes || strings.ContainsFunc(id, func(c rune) bool { return c < 0x21 || c > 0x7e }) {
			id = newRequestID()
		}
		facts := &requestFacts{}
		ctx := context.WithValue(context.WithValue(r.Context(), ctxRequestID, id), ctxFacts, facts)
		r = r.WithContext(ctx)
		w.Header().Set("X-Request-Id", id)
		rec := &recorder{ResponseWriter: w}
		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler {
					panic(v)
				}
				s.logger.ErrorContext(ctx, "panic", "panic", fmt.Sprint(v), "request_id", id, "stack", string(debug.Stack()))
				if rec.status == 0 {
					writeProblem(rec, r, newProblem(http.StatusInternalServerError, billow.CodeInternal, "Billow could not complete the request; it was logged with its request id"))
				}
			}
			elapsed := time.Since(start)
			pattern := facts.route
			if pattern == "" {
				pattern = "unmatched"
			}
			s.metrics.observe(r.Method, pattern, rec.status, elapsed)
			level := slog.LevelInfo
			if rec.status >= 500 {
				level = slog.LevelError
			}
			s.logger.LogAttrs(ctx, level, "request", slog.String("request_id", id),
				slog.Group("http", slog.String("method", r.Method), slog.String("path", r.URL.Path), slog.String("route", pattern),
					slog.Int("status", rec.status), slog.Int("bytes", rec.bytes), slog.Float64("duration_ms", float64(elapsed.Microseconds())/1000),
					slog.String("remote", r.RemoteAddr)),
				slog.String("key", facts.keyID))
		}()
		r.Body = http.MaxBytesReader(rec, r.Body, bodyMaxBytes(r.URL.Path))
		next.ServeHTTP(rec, r)
	})
}

// routed records the matched route pattern for observe.
func routed(mux *http.ServeMux) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mux.ServeHTTP(w, r)
		if f, ok := r.Context().Value(ctxFacts).(*requestFacts); ok {
			f.route = r.Pattern
		}
	})
}

// authenticate resolves the bearer key of every /v1 request into a Principal. The
// principal is looked up on every request so that a revoked key stops at once.
func (s *Server) authenticate(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !strings.HasPrefix(r.URL.Path, "/v1/") {
			next.ServeHTTP(w, r)
			return
		}
		auth := r.Header.Get("Authorization")
		secret, ok := strings.CutPrefix(auth, "Bearer ")
		if !ok || secret == "" {
			w.Header().Set("WWW-Authenticate", `Bearer realm="billow"`)
			writeProblem(w, r, newProblem(http.StatusUnauthorized, billow.CodeUnauthorized, "send an API key as Authorization: Bearer <key>"))
			return
		}
		principal, err := s.principalFor(r.Context(), secret)
		if err != nil {
			p := problemFor(r.Context(), s.logger, err)
			if p.Status == http.StatusUnauthorized {
				w.Header().Set("WWW-Authenticate", `Bearer realm="billow", error="invalid_token"`)
			}
			writeProblem(w, r, p)
			return
		}
		if f, ok := r.Context().Value(ctxFacts).(*requestFacts); ok {
			f.keyID = principal.KeyID
		}
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), ctxPrincipal, principal)))
	})
}

func (s *Server) principalFor(ctx context.Context, secret string) (billow.Principal, error) {
	if s.adminKeyHash != nil {
		sum := sha256.Sum256([]byte(secret))
		if subtle.ConstantTimeCompare(sum[:], s.adminKeyHash) == 1 {
			return billow.Principal{KeyID: BootstrapKeyID}, nil
		}
	}
	return s.store.PrincipalForSecret(ctx, secret)
}

func newRequestID() string {
	var b [12]byte
	rand.Read(b[:])
	return "req_" + hex.EncodeToString(b[:])
}

// principal returns the caller of an authenticated operation.
func principal(ctx context.Context) billow.Principal {
	p, ok := PrincipalFrom(ctx)
	if !ok {
		// authenticate runs before every /v1 operation; reaching here is a wiring bug.
		panic("http: operation reached without a principal")
	}
	return p
}

// requireOperator answers 404 to account-scoped callers, as for any resource they may
// not see: tenants never learn what else exists.
func requireOperator(ctx context.Context) error {
	if !principal(ctx).IsOperator() {
		return billow.Errorf(billow.KindNotFound, billow.CodeNotFound, "not found")
	}
	return nil
}
