package store

import (
	"context"
	"database/sql"
)

// The release before this queue kept its deliveries in River's tables. The first start of
// this build takes them over in one migration (migrations/*/…_river_takeover.sql): every job
// still to run becomes a pending delivery row, unless hookd_delivered says its event reached
// the sink already, every dead job a dead row under the same id (so the dead letter's audit
// rows still name it), and River's tables are dropped. This file is the only Go code that
// names them.

// takeoverSuffix ends the name of the migration that takes over River's queue.
const takeoverSuffix = "_river_takeover.sql"

// takeover returns the script of the takeover migration to run: the script when River's
// tables are there, else a statement that does nothing (a database made by this build).
func takeover(ctx context.Context, db *sql.DB, d dialect, script []byte) ([]byte, error) {
	q := `SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'river_job'`
	if d == postgres {
		// As the script's unqualified names resolve: along the search_path.
		q = `SELECT CASE WHEN to_regclass('river_job') IS NULL THEN 0 ELSE 1 END`
	}
	var n int
	if err := db.QueryRowContext(ctx, q).Scan(&n); err != nil {
		return nil, err
	}
	if n == 0 {
		return []byte(`SELECT 1`), nil
	}
	return script, nil
}
