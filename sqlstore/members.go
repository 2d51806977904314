package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/billowhq/billow"
)

const memberColumns = `id, account_id, external_id, email, name, role, created_at, updated_at`

// CreateMember adds a member to an account.
//
// Errors: validation_failed, email_taken, external_id_taken.
func (db *DB) CreateMember(ctx context.Context, accountID string, in billow.CreateMemberInput) (*billow.Member, error) {
	if err := in.Validate(); err != nil {
		return nil, err
	}
	now := db.now()
	m := &billow.Member{ID: billow.NewID(billow.PrefixMember, now), AccountID: accountID, ExternalID: in.ExternalID,
		Email: in.Email, Name: in.Name, Role: in.Role, CreatedAt: now, UpdatedAt: now}
	err := db.tx(ctx, func(tx *sql.Tx) error {
		// Two unique constraints can fail; asking first names the right one. On SQLite the
		// write lock makes the answer final; on PostgreSQL a racing insert still hits the
		// constraint below, and is reported as the likelier clash, the email.
		var emailClash, externalClash bool
		err := tx.QueryRowContext(ctx, `SELECT COALESCE(MAX(CASE WHEN email = $2 THEN 1 ELSE 0 END), 0),
				COALESCE(MAX(CASE WHEN external_id = $3 THEN 1 ELSE 0 END), 0)
			FROM members WHERE account_id = $1 AND (email = $2 OR external_id = $3)`,
			accountID, m.Email, nullString(m.ExternalID)).Scan(&emailClash, &externalClash)
		switch {
		case err != nil:
			return err
		case emailClash:
			return emailTaken(m.Email)
		case externalClash:
			return externalIDTaken("member of this account", m.ExternalID)
		}
		_, err = tx.ExecContext(ctx, `INSERT INTO members (`+memberColumns+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
			m.ID, accountID, nullString(m.ExternalID), m.Email, m.Name, string(m.Role), billow.TimeMicros(now), billow.TimeMicros(now))
		if isUniqueViolation(err) {
			return emailTaken(m.Email)
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	return m, nil
}

// Member returns a member of the account by id or external id.
//
// Errors: not_found.
func (db *DB) Member(ctx context.Context, accountID, ref string) (*billow.Member, error) {
	return memberByRef(ctx, db.read, accountID, ref)
}

// ListMembers lists the members of an account, newest first; role filters when not empty.
func (db *DB) ListMembers(ctx context.Context, accountID string, role billow.Role, page billow.PageInput) (billow.Page[*billow.Member], error) {
	page.Normalize()
	rows, err := db.read.QueryContext(ctx, `SELECT `+memberColumns+` FROM members
		WHERE account_id = $1 AND ($2 = '' OR id < $2) AND ($3 = '' OR role = $3) ORDER BY id DESC LIMIT $4`,
		accountID, page.StartingAfter, string(role), page.Limit+1)
	if err != nil {
		return billow.Page[*billow.Member]{}, fmt.Errorf("sqlstore: list members: %w", err)
	}
	return collectPage(rows, page.Limit, scanMember)
}

// UpdateMember changes a member's name or role.
//
// Errors: validation_failed, not_found.
func (db *DB) UpdateMember(ctx context.Context, accountID, ref string, in billow.UpdateMemberInput) (*billow.Member, error) {
	if err := in.Validate(); err != nil {
		return nil, err
	}
	var out *billow.Member
	err := db.tx(ctx, func(tx *sql.Tx) error {
		m, err := memberByRef(ctx, tx, accountID, ref)
		if err != nil {
			return err
		}
		if in.Name != nil {
			m.Name = *in.Name
		}
		if in.Role != nil {
			m.Role = *in.Role
		}
		m.UpdatedAt = db.now()
		_, err = tx.ExecContext(ctx, `UPDATE members SET name = $3, role = $4, updated_at = $5 WHERE account_id = $1 AND id = $2`,
			accountID, m.ID, m.Name, string(m.Role), billow.TimeMicros(m.UpdatedAt))
		out = m
		return err
	})
	return out, err
}

// DeleteMember removes a member from an account.
//
// Errors: not_found.
func (db *DB) DeleteMember(ctx context.Context, accountID, ref string) (*billow.Member, error) {
	var out *billow.Member
	err := db.tx(ctx, func(tx *sql.Tx) error {
		m, err := memberByRef(ctx, tx, accountID, ref)
		if err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `DELETE FROM members WHERE account_id = $1 AND id = $2`, accountID, m.ID)
		out = m
		return err
	})
	return out, err
}

func memberByRef(ctx context.Context, q queryRower, accountID, ref string) (*billow.Member, error) {
	column := "external_id"
	if billow.IsID(ref, billow.PrefixMember) {
		column = "id"
	}
	m, err := scanMember(q.QueryRowContext(ctx, `SELECT `+memberColumns+` FROM members WHERE account_id = $1 AND `+column+` = $2`, accountID, ref))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, billow.NotFound("member", ref)
	}
	return m, err
}

func scanMember(s scanner) (*billow.Member, error) {
	var (
		m                billow.Member
		external         sql.NullString
		role             string
		created, updated int64
	)
	if err := s.Scan(&m.ID, &m.AccountID, &external, &m.Email, &m.Name, &role, &created, &updated); err != nil {
		return nil, err
	}
	m.ExternalID, m.Role = external.String, billow.Role(role)
	m.CreatedAt, m.UpdatedAt = billow.FromMicros(created), billow.FromMicros(updated)
	return &m, nil
}

func emailTaken(email string) error {
	return &billow.Error{Kind: billow.KindConflict, Code: billow.CodeEmailTaken,
		Message: fmt.Sprintf("a member with email %q already exists in this account", email),
		Fields:  []billow.FieldError{{Field: "email", Message: "is taken"}}}
}
