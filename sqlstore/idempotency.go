package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/billowhq/billow"
)

// IdempotentResponse is a stored answer to a POST, replayed for a retry with the same key.
type IdempotentResponse struct {
	Status      int
	ContentType string
	Body        []byte
}

// Claim is the outcome of claiming an idempotency key.
type Claim struct {
	// Claimed is true when the caller now holds the key and must run the request, then
	// Complete or Release it.
	Claimed bool
	// Response is the stored answer when the key was already completed with the same request.
	Response *IdempotentResponse
}

// ClaimIdempotencyKey claims (principal, key) for a request whose body hashes to
// requestHash. A key completed earlier with the same hash gives its stored response; a
// key held by a request still running gives idempotency_key_in_use; a key used for
// another request gives idempotency_key_reused. A key whose holder vanished (a crash
// between claim and completion) is given to the next caller once lockFor has passed.
//
// Errors: idempotency_key_reused, idempotency_key_in_use.
func (db *DB) ClaimIdempotencyKey(ctx context.Context, principal, key, requestHash string, lockFor, keepFor time.Duration) (Claim, error) {
	var claim Claim
	err := db.tx(ctx, func(tx *sql.Tx) error {
		now := db.now()
		nowUS := billow.TimeMicros(now)
		var (
			hash, status        string
			respStatus          int
			contentType         string
			body                []byte
			lockedUntil, expiry int64
		)
		err := tx.QueryRowContext(ctx, `SELECT request_hash, status, response_status, content_type, response_body, locked_until, expires_at
			FROM idempotency_keys WHERE principal = $1 AND key = $2`, principal, key).
			Scan(&hash, &status, &respStatus, &contentType, &body, &lockedUntil, &expiry)
		switch {
		case errors.Is(err, sql.ErrNoRows), err == nil && expiry <= nowUS:
			// New, or expired and not yet purged: the key is free.
		case err != nil:
			return err
		case hash != requestHash:
			return billow.Errorf(billow.KindConflict, billow.CodeIdempotencyReused,
				"this Idempotency-Key was used for a different request; use a new key for a new request")
		case status == "done":
			claim.Response = &IdempotentResponse{Status: respStatus, ContentType: contentType, Body: body}
			return nil
		case lockedUntil > nowUS:
			return keyInUse()
		}
		// Two racing claims of a free key meet on the primary key (PostgreSQL; SQLite has
		// one writer). The guarded upsert takes over only an expired or abandoned row, so
		// the loser changes nothing and is told the key is in use.
		res, err := tx.ExecContext(ctx, `INSERT INTO idempotency_keys
			(principal, key, request_hash, status, created_at, locked_until, expires_at)
			VALUES ($1, $2, $3, 'in_progress', $4, $5, $6)
			ON CONFLICT (principal, key) DO UPDATE SET request_hash = excluded.request_hash, status = 'in_progress',
				response_status = 0, content_type = '', response_body = NULL,
				created_at = excluded.created_at, locked_until = excluded.locked_until, expires_at = excluded.expires_at
			WHERE idempotency_keys.expires_at <= $4
			   OR (idempotency_keys.status = 'in_progress' AND idempotency_keys.locked_until <= $4
			       AND idempotency_keys.request_hash = excluded.request_hash)`,
			principal, key, requestHash, nowUS, billow.TimeMicros(now.Add(lockFor)), billow.TimeMicros(now.Add(keepFor)))
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil || n != 1 {
			return keyInUse()
		}
		claim.Claimed = true
		return nil
	})
	if err != nil && billow.ErrorKindOf(err) == billow.KindInternal {
		return Claim{}, fmt.Errorf("sqlstore: claim idempotency key: %w", err)
	}
	return claim, err
}

// CompleteIdempotencyKey stores the response of a claimed key.
func (db *DB) CompleteIdempotencyKey(ctx context.Context, principal, key string, resp IdempotentResponse) error {
	return db.tx(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `UPDATE idempotency_keys SET status = 'done', response_status = $3, content_type = $4, response_body = $5
			WHERE principal = $1 AND key = $2 AND status = 'in_progress'`, principal, key, resp.Status, resp.ContentType, resp.Body)
		return err
	})
}

// ReleaseIdempotencyKey forgets a claimed key whose request failed without effect (a 5xx
// answer), so that a retry runs the request again.
func (db *DB) ReleaseIdempotencyKey(ctx context.Context, principal, key string) error {
	return db.tx(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `DELETE FROM idempotency_keys WHERE principal = $1 AND key = $2 AND status = 'in_progress'`, principal, key)
		return err
	})
}

// PurgeIdempotencyKeys deletes expired keys, at most limit of them, and says how many.
func (db *DB) PurgeIdempotencyKeys(ctx context.Context, limit int) (int64, error) {
	var n int64
	err := db.tx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM idempotency_keys WHERE (principal, key) IN
			(SELECT principal, key FROM idempotency_keys WHERE expires_at <= $1 LIMIT $2)`, billow.TimeMicros(db.now()), limit)
		if err != nil {
			return err
		}
		n, err = res.RowsAffected()
		return err
	})
	return n, err
}

func keyInUse() error {
	return billow.Errorf(billow.KindConflict, billow.CodeIdempotencyInUse,
		"a request with this Idempotency-Key is still being processed; retry later")
}
