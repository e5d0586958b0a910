package store

import (
	"context"
	"database/sql"
	"strings"
)

// The release before this queue kept its deliveries in River's tables. The first start of
// this build takes them over in one migration (migrations/*/…_river_takeover.sql): every job
// still to run becomes a pending delivery row, unless hookd_delivered says its event reached
// the sink already, every dead job a dead row under the same id, and River's tables are
// dropped. This file is the only Go code that names them.

// riverTakeover is the script to run for the migration file name: for the one that takes
// over River's tables, the script when they are there, else a statement that does nothing (a
// database made since); for any other, its script.
func riverTakeover(ctx context.Context, db *sql.DB, d dialect, name string, script []byte) ([]byte, error) {
	if !strings.HasSuffix(name, "_river_takeover.sql") {
		return script, nil
	}
	q := `SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'river_job'`
	if d == postgres {
		// As the script's unqualified names resolve: along the search_path.
		q = `SELECT CASE WHEN to_regclass('river_job') IS NULL THEN 0 ELSE 1 END`
	}
	var n int
	if err := db.QueryRowContext(ctx, q).Scan(&n); err != nil || n > 0 {
		return script, err
	}
	return []byte(`SELECT 1`), nil
}
