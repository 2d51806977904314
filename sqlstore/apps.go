package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/billowhq/billow"
)

const appColumns = `id, account_id, external_id, name, parent_app_id, created_at, updated_at`

// CreateApp stores an app of the account. A linked app's parent must be an app of the same
// account that is not itself linked.
//
// Errors: validation_failed, parent_app_not_found, parent_app_is_linked, external_id_taken.
func (db *DB) CreateApp(ctx context.Context, accountID string, in billow.CreateAppInput) (*billow.App, error) {
	if err := in.Validate(); err != nil {
		return nil, err
	}
	now := db.now()
	app := &billow.App{ID: billow.NewID(billow.PrefixApp, now), AccountID: accountID, ExternalID: in.ExternalID,
		Name: in.Name, CreatedAt: now, UpdatedAt: now}
	err := db.tx(ctx, func(tx *sql.Tx) error {
		if in.ParentApp != "" {
			parent, err := appByRef(ctx, tx, accountID, in.ParentApp)
			if billow.ErrorCode(err) == billow.CodeNotFound {
				return billow.FieldErrorf(billow.CodeParentAppNotFound, "parent_app", "this account has no app %q", in.ParentApp)
			}
			if err != nil {
				return err
			}
			if parent.ParentApp != "" {
				return billow.FieldErrorf(billow.CodeParentAppIsLinked, "parent_app",
					"app %q is itself a linked app; routing is one level deep", in.ParentApp)
			}
			app.ParentApp = parent.ID
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO apps (`+appColumns+`) VALUES ($1, $2, $3, $4, $5, $6, $7)`,
			app.ID, accountID, app.ExternalID, app.Name, nullString(app.ParentApp), billow.TimeMicros(now), billow.TimeMicros(now))
		if isUniqueViolation(err) {
			return externalIDTaken("app of this account", app.ExternalID)
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	return app, nil
}

// App returns an app of the account by id or external id.
//
// Errors: not_found.
func (db *DB) App(ctx context.Context, accountID, ref string) (*billow.App, error) {
	return appByRef(ctx, db.read, accountID, ref)
}

// ListApps lists the apps of an account, newest first.
func (db *DB) ListApps(ctx context.Context, accountID string, page billow.PageInput) (billow.Page[*billow.App], error) {
	page.Normalize()
	rows, err := db.read.QueryContext(ctx, `SELECT `+appColumns+` FROM apps
		WHERE account_id = $1 AND ($2 = '' OR id < $2) ORDER BY id DESC LIMIT $3`, accountID, page.StartingAfter, page.Limit+1)
	if err != nil {
		return billow.Page[*billow.App]{}, fmt.Errorf("sqlstore: list apps: %w", err)
	}
	return collectPage(rows, page.Limit, scanApp)
}

// UpdateApp renames an app.
//
// Errors: validation_failed, not_found.
func (db *DB) UpdateApp(ctx context.Context, accountID, ref string, in billow.UpdateAppInput) (*billow.App, error) {
	if err := in.Validate(); err != nil {
		return nil, err
	}
	var out *billow.App
	err := db.tx(ctx, func(tx *sql.Tx) error {
		app, err := appByRef(ctx, tx, accountID, ref)
		if err != nil {
			return err
		}
		if in.Name != nil {
			app.Name = *in.Name
		}
		app.UpdatedAt = db.now()
		_, err = tx.ExecContext(ctx, `UPDATE apps SET name = $3, updated_at = $4 WHERE account_id = $1 AND id = $2`,
			accountID, app.ID, app.Name, billow.TimeMicros(app.UpdatedAt))
		out = app
		return err
	})
	return out, err
}

type queryRower interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

func appByRef(ctx context.Context, q queryRower, accountID, ref string) (*billow.App, error) {
	column := "external_id"
	if billow.IsID(ref, billow.PrefixApp) {
		column = "id"
	}
	app, err := scanApp(q.QueryRowContext(ctx, `SELECT `+appColumns+` FROM apps WHERE account_id = $1 AND `+column+` = $2`, accountID, ref))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, billow.NotFound("app", ref)
	}
	return app, err
}

func scanApp(s scanner) (*billow.App, error) {
	var (
		app              billow.App
		parent           sql.NullString
		created, updated int64
	)
	if err := s.Scan(&app.ID, &app.AccountID, &app.ExternalID, &app.Name, &parent, &created, &updated); err != nil {
		return nil, err
	}
	app.ParentApp = parent.String
	app.CreatedAt, app.UpdatedAt = billow.FromMicros(created), billow.FromMicros(updated)
	return &app, nil
}

func nullString(s string) sql.NullString { return sql.NullString{String: s, Valid: s != ""} }
