package store

import (
	"context"
	"database/sql"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func pageSize(t *testing.T, s *Store) int {
	t.Helper()
	var n int
	require.NoError(t, s.DB().QueryRow("PRAGMA page_size").Scan(&n))
	return n
}

// TestNewDatabaseHasLargePages: hookd creates its SQLite database with sqlitePageSize pages,
// in WAL mode, and opens one made before with SQLite's default pages as it is.
func TestNewDatabaseHasLargePages(t *testing.T) {
	fresh := open(t, Options{DataDir: t.TempDir()})
	assert.Equal(t, sqlitePageSize, pageSize(t, fresh))
	var mode string
	require.NoError(t, fresh.DB().QueryRow("PRAGMA journal_mode").Scan(&mode))
	assert.Equal(t, "wal", mode)
	_, err := fresh.Accept(context.Background(), records("p1", "p2"))
	require.NoError(t, err)

	dir := t.TempDir()
	old, err := sql.Open("sqlite", "file:"+filepath.Join(dir, "hookd.db"))
	require.NoError(t, err)
	_, err = old.Exec("PRAGMA journal_mode = WAL")
	require.NoError(t, err)
	_, err = old.Exec("CREATE TABLE made_before (x INTEGER)")
	require.NoError(t, err)
	require.NoError(t, old.Close())
	kept := open(t, Options{DataDir: dir})
	assert.Equal(t, 4096, pageSize(t, kept), "a database made before keeps its page size")
	res, err := kept.Accept(context.Background(), records("p1"))
	require.NoError(t, err)
	assert.Equal(t, 1, res.Accepted)
}
