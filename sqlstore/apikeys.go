package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/billowhq/billow"
)

const apiKeyColumns = `id, name, account_id, prefix, created_at, revoked_at`

// CreateAPIKey creates a key, scoped to accountID when it is not empty, and returns it
// with its secret. Only the secret's hash is stored: this is the one time it is seen.
//
// Errors: validation_failed.
func (db *DB) CreateAPIKey(ctx context.Context, name, accountID string) (*billow.APIKey, string, error) {
	in := billow.CreateAPIKeyInput{Name: name}
	if err := in.Validate(); err != nil {
		return nil, "", err
	}
	prefix := billow.SecretPrefixOperator
	if accountID != "" {
		prefix = billow.SecretPrefixAccount
	}
	secret := billow.NewSecret(prefix)
	now := db.now()
	key := &billow.APIKey{ID: billow.NewID(billow.PrefixAPIKey, now), Name: in.Name, AccountID: accountID,
		Prefix: secret[:billow.KeyDisplayPrefixChars], CreatedAt: now}
	err := db.tx(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO api_keys (id, name, account_id, secret_hash, prefix, created_at)
			VALUES ($1, $2, $3, $4, $5, $6)`, key.ID, key.Name, nullString(accountID), billow.HashSecret(secret), key.Prefix, billow.TimeMicros(now))
		return err
	})
	if err != nil {
		return nil, "", fmt.Errorf("sqlstore: create API key: %w", err)
	}
	return key, secret, nil
}

// PrincipalForSecret returns who a secret belongs to.
//
// Errors: unauthorized (unknown secret), api_key_revoked.
func (db *DB) PrincipalForSecret(ctx context.Context, secret string) (billow.Principal, error) {
	var (
		p       billow.Principal
		account sql.NullString
		revoked sql.NullInt64
	)
	err := db.read.QueryRowContext(ctx, `SELECT id, account_id, revoked_at FROM api_keys WHERE secret_hash = $1`,
		billow.HashSecret(secret)).Scan(&p.KeyID, &account, &revoked)
	if errors.Is(err, sql.ErrNoRows) {
		return billow.Principal{}, billow.Errorf(billow.KindUnauthorized, billow.CodeUnauthorized, "the API key is not valid")
	}
	if err != nil {
		return billow.Principal{}, fmt.Errorf("sqlstore: look up API key: %w", err)
	}
	if revoked.Valid {
		return billow.Principal{}, billow.Errorf(billow.KindUnauthorized, billow.CodeAPIKeyRevoked, "the API key was revoked")
	}
	p.AccountID = account.String
	return p, nil
}

// ListAPIKeys lists keys, newest first, without their secrets.
func (db *DB) ListAPIKeys(ctx context.Context, page billow.PageInput) (billow.Page[*billow.APIKey], error) {
	page.Normalize()
	rows, err := db.read.QueryContext(ctx, `SELECT `+apiKeyColumns+` FROM api_keys
		WHERE ($1 = '' OR id < $1) ORDER BY id DESC LIMIT $2`, page.StartingAfter, page.Limit+1)
	if err != nil {
		return billow.Page[*billow.APIKey]{}, fmt.Errorf("sqlstore: list API keys: %w", err)
	}
	return collectPage(rows, page.Limit, scanAPIKey)
}

// RevokeAPIKey revokes a key; revoking a revoked key changes nothing.
//
// Errors: not_found.
func (db *DB) RevokeAPIKey(ctx context.Context, id string) (*billow.APIKey, error) {
	var out *billow.APIKey
	err := db.tx(ctx, func(tx *sql.Tx) error {
		now := billow.TimeMicros(db.now())
		if _, err := tx.ExecContext(ctx, `UPDATE api_keys SET revoked_at = $2 WHERE id = $1 AND revoked_at IS NULL`, id, now); err != nil {
			return err
		}
		k, err := scanAPIKey(tx.QueryRowContext(ctx, `SELECT `+apiKeyColumns+` FROM api_keys WHERE id = $1`, id))
		if errors.Is(err, sql.ErrNoRows) {
			return billow.NotFound("API key", id)
		}
		out = k
		return err
	})
	return out, err
}

func scanAPIKey(s scanner) (*billow.APIKey, error) {
	var (
		k       billow.APIKey
		account sql.NullString
		created int64
		revoked sql.NullInt64
	)
	if err := s.Scan(&k.ID, &k.Name, &account, &k.Prefix, &created, &revoked); err != nil {
		return nil, err
	}
	k.AccountID, k.CreatedAt = account.String, billow.FromMicros(created)
	if revoked.Valid {
		t := billow.FromMicros(revoked.Int64)
		k.RevokedAt = &t
	}
	return &k, nil
}
