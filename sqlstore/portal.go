package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/billowhq/billow"
)

// portalTouchInterval is how stale a session's last_seen_at may get before a request
// writes it again: the idle expiry is kept to within a minute, and a page of the portal
// does not cost a write per request.
const portalTouchInterval = time.Minute

const portalSessionColumns = `s.id, s.account_id, s.member_id, m.role, s.return_url, s.csrf_token, s.link_expires_at,
	s.entered_at, s.last_seen_at, s.expires_at, s.created_at`

// CreatePortalSession makes a one-time link for a member of the account to open the
// billing portal, and returns the waiting session with the link's token. Only the token's
// hash is stored: this is the one time it is seen.
//
// Errors: validation_failed, unknown_member.
func (db *DB) CreatePortalSession(ctx context.Context, accountID string, in billow.CreatePortalSessionInput) (*billow.PortalSession, string, error) {
	if err := in.Validate(); err != nil {
		return nil, "", err
	}
	now := db.now()
	token := billow.NewPortalToken()
	s := &billow.PortalSession{ID: billow.NewID(billow.PrefixPortalSession, now), AccountID: accountID, ReturnURL: in.ReturnURL,
		LinkExpiresAt: now.Add(billow.PortalLinkTTL), CreatedAt: now}
	err := db.tx(ctx, func(tx *sql.Tx) error {
		m, err := memberByRef(ctx, tx, accountID, in.Member)
		if billow.ErrorCode(err) == billow.CodeNotFound {
			return unknownMember("member", in.Member)
		}
		if err != nil {
			return err
		}
		s.MemberID, s.Role = m.ID, m.Role
		_, err = tx.ExecContext(ctx, `INSERT INTO portal_sessions (id, account_id, member_id, role_at_start, return_url, link_hash,
				link_expires_at, created_at, purge_after)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $7)`,
			s.ID, accountID, m.ID, string(m.Role), s.ReturnURL, billow.HashSecret(token), billow.TimeMicros(s.LinkExpiresAt), billow.TimeMicros(now))
		return err
	})
	if err != nil {
		return nil, "", err
	}
	return s, token, nil
}

// EnterPortal opens a one-time link: it turns the waiting session into a live one and
// returns it with its cookie secret, which, like the token, is stored only as a hash. A
// token opens once: two requests racing with it get one session between them.
//
// Errors: portal_link_invalid (no such link, opened already, expired, or its member was
// removed; the cases are not told apart).
func (db *DB) EnterPortal(ctx context.Context, token string) (*billow.PortalSession, string, error) {
	invalid := billow.Errorf(billow.KindUnauthorized, billow.CodePortalLinkInvalid,
		"this billing link was opened already or has expired; open Billing again from the platform")
	if token == "" {
		return nil, "", invalid
	}
	now := db.now()
	secret, csrf := billow.NewPortalToken(), billow.NewPortalToken()
	expires := now.Add(billow.PortalSessionTTL)
	var out *billow.PortalSession
	err := db.tx(ctx, func(tx *sql.Tx) error {
		// The member must still be one, with the role the session will use.
		var id string
		err := tx.QueryRowContext(ctx, `SELECT s.id FROM portal_sessions s
			JOIN members m ON m.id = s.member_id AND m.account_id = s.account_id
			WHERE s.link_hash = $1 AND s.entered_at IS NULL AND s.ended_at IS NULL AND s.link_expires_at > $2`,
			billow.HashSecret(token), billow.TimeMicros(now)).Scan(&id)
		if errors.Is(err, sql.ErrNoRows) {
			return invalid
		}
		if err != nil {
			return err
		}
		// entered_at IS NULL again: on PostgreSQL a concurrent opener may have won since the
		// read; the row count says who did.
		res, err := tx.ExecContext(ctx, `UPDATE portal_sessions SET session_hash = $2, csrf_token = $3, entered_at = $4,
				last_seen_at = $4, expires_at = $5, purge_after = $5
			WHERE id = $1 AND entered_at IS NULL`,
			id, billow.HashSecret(secret), csrf, billow.TimeMicros(now), billow.TimeMicros(expires))
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil {
			return err
		} else if n != 1 {
			return invalid
		}
		out, err = portalSessionWhere(ctx, tx, `s.id = $1`, id)
		return err
	})
	if err != nil {
		return nil, "", err
	}
	return out, secret, nil
}

// PortalSession returns the live session a cookie secret belongs to, with its member's
// current role, and records that it was used now (at most once a portalTouchInterval).
//
// Errors: unauthorized (no such session, ended, idle longer than
// billow.PortalSessionIdleTTL, older than billow.PortalSessionTTL, or its member was
// removed).
func (db *DB) PortalSession(ctx context.Context, secret string) (*billow.PortalSession, error) {
	gone := billow.Errorf(billow.KindUnauthorized, billow.CodeUnauthorized, "the billing session has ended")
	if secret == "" {
		return nil, gone
	}
	s, err := portalSessionWhere(ctx, db.read, `s.session_hash = $1 AND s.ended_at IS NULL`, billow.HashSecret(secret))
	if billow.ErrorCode(err) == billow.CodeNotFound {
		return nil, gone
	}
	if err != nil {
		return nil, err
	}
	now := db.now()
	if s.ExpiresAt == nil || !now.Before(*s.ExpiresAt) || !now.Before(s.IdleUntil()) {
		return nil, gone
	}
	if now.Sub(*s.LastSeenAt) >= portalTouchInterval {
		// The idle check is repeated in the statement: a session that timed out between
		// the read and this write stays ended.
		res, err := db.write.ExecContext(ctx, `UPDATE portal_sessions SET last_seen_at = $2
			WHERE id = $1 AND ended_at IS NULL AND last_seen_at > $3`,
			s.ID, billow.TimeMicros(now), billow.TimeMicros(now.Add(-billow.PortalSessionIdleTTL)))
		if err != nil {
			return nil, fmt.Errorf("sqlstore: touch portal session: %w", err)
		}
		if n, err := res.RowsAffected(); err != nil {
			return nil, fmt.Errorf("sqlstore: touch portal session: %w", err)
		} else if n != 1 {
			return nil, gone
		}
		s.LastSeenAt = &now
	}
	return s, nil
}

// EndPortalSession ends a session (sign out). Ending an ended session changes nothing.
func (db *DB) EndPortalSession(ctx context.Context, id string) error {
	now := billow.TimeMicros(db.now())
	_, err := db.write.ExecContext(ctx, `UPDATE portal_sessions SET ended_at = $2, purge_after = $2 WHERE id = $1 AND ended_at IS NULL`, id, now)
	if err != nil {
		return fmt.Errorf("sqlstore: end portal session: %w", err)
	}
	return nil
}

// PurgePortalSessions deletes up to limit sessions that can no longer be used (links
// never opened in time, sessions past their absolute expiry, sessions signed out) and
// returns how many it deleted.
func (db *DB) PurgePortalSessions(ctx context.Context, limit int) (int, error) {
	res, err := db.write.ExecContext(ctx, `DELETE FROM portal_sessions WHERE id IN (
		SELECT id FROM portal_sessions WHERE purge_after <= $1 ORDER BY purge_after LIMIT $2)`, billow.TimeMicros(db.now()), limit)
	if err != nil {
		return 0, fmt.Errorf("sqlstore: purge portal sessions: %w", err)
	}
	n, err := res.RowsAffected()
	return int(n), err
}

// portalSessionWhere reads one session with its member's current role; a session whose
// member was removed is not found.
func portalSessionWhere(ctx context.Context, q queryRower, where string, args ...any) (*billow.PortalSession, error) {
	var (
		s                     billow.PortalSession
		role                  string
		csrf                  sql.NullString
		linkExp, created      int64
		entered, seen, expire sql.NullInt64
	)
	err := q.QueryRowContext(ctx, `SELECT `+portalSessionColumns+` FROM portal_sessions s
		JOIN members m ON m.id = s.member_id AND m.account_id = s.account_id WHERE `+where, args...).
		Scan(&s.ID, &s.AccountID, &s.MemberID, &role, &s.ReturnURL, &csrf, &linkExp, &entered, &seen, &expire, &created)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, billow.NotFound("portal session", "")
	}
	if err != nil {
		return nil, fmt.Errorf("sqlstore: portal session: %w", err)
	}
	s.Role, s.CSRFToken = billow.Role(role), csrf.String
	s.LinkExpiresAt, s.CreatedAt = billow.FromMicros(linkExp), billow.FromMicros(created)
	s.EnteredAt, s.LastSeenAt, s.ExpiresAt = optTime(entered), optTime(seen), optTime(expire)
	return &s, nil
}
