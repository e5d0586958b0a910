package store

import (
	"context"
	"database/sql"
	"embed"
	"fmt"
	"io/fs"
	"strconv"
	"strings"
)

//go:embed migrations
var migrationFS embed.FS

// migrate brings hookd's tables up to date: each script of the dialect's directory, in the
// order of their numbers, once (hookd_schema_version). On Postgres an advisory lock makes
// replicas that start together take turns.
func migrate(ctx context.Context, db *sql.DB, d dialect) error {
	if d == postgres {
		conn, err := db.Conn(ctx)
		if err != nil {
			return err
		}
		defer conn.Close()
		const lockKey = 0x686f6f6b64 // "hookd"
		if _, err := conn.ExecContext(ctx, "SELECT pg_advisory_lock($1)", lockKey); err != nil {
			return fmt.Errorf("migration lock: %w", err)
		}
		defer conn.ExecContext(context.WithoutCancel(ctx), "SELECT pg_advisory_unlock($1)", lockKey) //nolint:errcheck // released with the session anyway
	}
	if _, err := db.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS hookd_schema_version (version INTEGER PRIMARY KEY)`); err != nil {
		return fmt.Errorf("hookd migrations: %w", err)
	}
	var current int
	if err := db.QueryRowContext(ctx, `SELECT COALESCE(MAX(version), 0) FROM hookd_schema_version`).Scan(&current); err != nil {
		return fmt.Errorf("hookd migrations: %w", err)
	}
	dir := "migrations/" + d.String()
	entries, err := fs.ReadDir(migrationFS, dir) // by name
	if err != nil {
		return err
	}
	for _, e := range entries {
		num, _, _ := strings.Cut(e.Name(), "_")
		version, err := strconv.Atoi(num)
		if err != nil {
			return fmt.Errorf("migration %s: name must start with its number", e.Name())
		}
		if version <= current {
			continue
		}
		script, err := migrationFS.ReadFile(dir + "/" + e.Name())
		if err != nil {
			return err
		}
		if script, err = riverTakeover(ctx, db, d, e.Name(), script); err != nil {
			return fmt.Errorf("hookd migration %s: %w", e.Name(), err)
		}
		if err := applyMigration(ctx, db, version, string(script)); err != nil {
			return fmt.Errorf("hookd migration %s: %w", e.Name(), err)
		}
	}
	return nil
}

// applyMigration runs one script whole, in a transaction with its version row. The script
// goes to the database as it is (several statements in one Exec: Postgres's simple protocol,
// SQLite's statement loop), so a ';' in a comment or a string cannot cut it apart.
func applyMigration(ctx context.Context, db *sql.DB, version int, script string) error {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback() //nolint:errcheck // a no-op after Commit
	if _, err := tx.ExecContext(ctx, script); err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO hookd_schema_version (version) VALUES ($1)`, version); err != nil {
		return err
	}
	return tx.Commit()
}
