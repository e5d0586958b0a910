package store

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestMigrationIsRunWhole: a ';' inside a comment or a string does not cut a script apart.
func TestMigrationIsRunWhole(t *testing.T) {
	for _, be := range backends(t) {
		t.Run(be.name, func(t *testing.T) {
			s := open(t, be.fresh(t))
			script := `-- a comment; with a semicolon
CREATE TABLE hookd_test_whole (v TEXT NOT NULL);
INSERT INTO hookd_test_whole (v) VALUES ('a;b');`
			require.NoError(t, applyMigration(context.Background(), s.DB(), 999, script))
			var v string
			require.NoError(t, s.DB().QueryRow(`SELECT v FROM hookd_test_whole`).Scan(&v))
			assert.Equal(t, "a;b", v)
		})
	}
}
