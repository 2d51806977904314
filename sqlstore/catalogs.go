package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/billowhq/billow"
	"github.com/billowhq/billow/catalog"
)

// CatalogVersion describes one stored version of a catalog.
type CatalogVersion struct {
	Catalog   string    `json:"catalog"`
	Version   int64     `json:"version"`
	Hash      string    `json:"hash"`
	Name      string    `json:"name"`
	CreatedAt time.Time `json:"created_at"`
}

// catalogSyncAttemptsMax bounds the retries of SyncCatalog when other processes store the
// same catalog at the same moment.
const catalogSyncAttemptsMax = 5

type catalogVersionKey struct {
	catalog string
	version int64
}

type entry struct {
	info CatalogVersion
	cat  *catalog.Catalog
}

// SyncCatalog stores a catalog under key. When its content differs from the latest
// stored version (by catalog.Hash, so comments and formatting do not count) it becomes a
// new version; otherwise the latest version is returned unchanged.
//
// Errors: the *catalog.ValidationError of an invalid source.
func (db *DB) SyncCatalog(ctx context.Context, key string, source []byte) (v CatalogVersion, created bool, err error) {
	cat, err := catalog.Parse(key, source)
	if err != nil {
		return CatalogVersion{}, false, err
	}
	hash := cat.Hash()
	// Processes sharing PostgreSQL start together at a deploy and race to store the same new
	// version; the loser meets the primary key and, on its next attempt, finds the winner's
	// version with the same hash.
	for attempt := 1; ; attempt++ {
		created = false
		err = db.tx(ctx, func(tx *sql.Tx) error {
			var latest int64
			var latestHash string
			err := tx.QueryRowContext(ctx, `SELECT version, hash FROM catalog_versions WHERE catalog = $1
				ORDER BY version DESC LIMIT 1`, key).Scan(&latest, &latestHash)
			if err != nil && !errors.Is(err, sql.ErrNoRows) {
				return err
			}
			if latest > 0 && latestHash == hash {
				v, err = scanCatalogVersion(tx.QueryRowContext(ctx, `SELECT catalog, version, hash, name, created_at
					FROM catalog_versions WHERE catalog = $1 AND version = $2`, key, latest))
				return err
			}
			now := db.now()
			v = CatalogVersion{Catalog: key, Version: latest + 1, Hash: hash, Name: cat.Name, CreatedAt: now}
			created = true
			_, err = tx.ExecContext(ctx, `INSERT INTO catalog_versions (catalog, version, hash, name, source, created_at)
				VALUES ($1, $2, $3, $4, $5, $6)`, key, v.Version, hash, cat.Name, source, billow.TimeMicros(now))
			return err
		})
		if !isUniqueViolation(err) || attempt == catalogSyncAttemptsMax {
			break
		}
	}
	if err != nil {
		return CatalogVersion{}, false, fmt.Errorf("sqlstore: store catalog %q: %w", key, err)
	}
	if created {
		db.logger.Info("catalog version stored", slog.Group("catalog", "key", key, "version", v.Version, "hash", hash[:12]))
	}
	return v, created, nil
}

// Catalog returns a version of a stored catalog, parsed; version 0 means the latest.
// Versions never change once stored, so parsed versions are kept in memory.
//
// Errors: not_found.
func (db *DB) Catalog(ctx context.Context, key string, version int64) (*catalog.Catalog, CatalogVersion, error) {
	if version == 0 {
		err := db.read.QueryRowContext(ctx, `SELECT COALESCE(MAX(version), 0) FROM catalog_versions WHERE catalog = $1`, key).Scan(&version)
		if err != nil {
			return nil, CatalogVersion{}, fmt.Errorf("sqlstore: catalog %q: %w", key, err)
		}
		if version == 0 {
			return nil, CatalogVersion{}, billow.NotFound("catalog", key)
		}
	}
	k := catalogVersionKey{key, version}
	db.catalogsMu.Lock()
	e, ok := db.catalogs[k]
	db.catalogsMu.Unlock()
	if ok {
		return e.cat, e.info, nil
	}
	var source []byte
	var created int64
	info := CatalogVersion{Catalog: key, Version: version}
	err := db.read.QueryRowContext(ctx, `SELECT hash, name, source, created_at FROM catalog_versions
		WHERE catalog = $1 AND version = $2`, key, version).Scan(&info.Hash, &info.Name, &source, &created)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, CatalogVersion{}, billow.NotFound("catalog version", fmt.Sprintf("%s@%d", key, version))
	}
	if err != nil {
		return nil, CatalogVersion{}, fmt.Errorf("sqlstore: catalog %q version %d: %w", key, version, err)
	}
	info.CreatedAt = billow.FromMicros(created)
	cat, err := catalog.Parse(fmt.Sprintf("%s@%d", key, version), source)
	if err != nil {
		// A stored version was valid when stored; failing now means this binary's rules
		// changed under it, which an operator must see rather than have papered over.
		return nil, CatalogVersion{}, fmt.Errorf("sqlstore: stored catalog %q version %d no longer parses: %w", key, version, err)
	}
	db.catalogsMu.Lock()
	db.catalogs[k] = &entry{info: info, cat: cat}
	db.catalogsMu.Unlock()
	return cat, info, nil
}

// CatalogVersions lists the versions of one catalog, newest first; with an empty key, the
// latest version of every catalog.
func (db *DB) CatalogVersions(ctx context.Context, key string) ([]CatalogVersion, error) {
	query := `SELECT catalog, version, hash, name, created_at FROM catalog_versions WHERE catalog = $1 ORDER BY version DESC`
	args := []any{key}
	if key == "" {
		query = `SELECT c.catalog, c.version, c.hash, c.name, c.created_at FROM catalog_versions c
			WHERE c.version = (SELECT MAX(version) FROM catalog_versions l WHERE l.catalog = c.catalog) ORDER BY c.catalog`
		args = nil
	}
	rows, err := db.read.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("sqlstore: catalog versions: %w", err)
	}
	defer rows.Close()
	var out []CatalogVersion
	for rows.Next() {
		v, err := scanCatalogVersion(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, rows.Err()
}

func scanCatalogVersion(s scanner) (CatalogVersion, error) {
	var v CatalogVersion
	var created int64
	if err := s.Scan(&v.Catalog, &v.Version, &v.Hash, &v.Name, &created); err != nil {
		return CatalogVersion{}, err
	}
	v.CreatedAt = billow.FromMicros(created)
	return v, nil
}
