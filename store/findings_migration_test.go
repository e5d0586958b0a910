package store

import (
	"context"
	"os"
	"strings"
	"testing"

	"github.com/hookd/hookd"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestChangeFindingsBackfill: the migration that adds the console's findings column fills it
// from the records of changes stored before, on both databases (its UPDATE, run again on
// rows emptied as the release before left them).
func TestChangeFindingsBackfill(t *testing.T) {
	for _, be := range backends(t) {
		t.Run(be.name, func(t *testing.T) {
			s := open(t, be.fresh(t))
			recs := records("with", "without")
			recs[0].Findings = []hookd.Finding{{ID: hookd.FindingSelfGrant}, {ID: hookd.FindingOffHours, Detail: "quoted \" and a NUL \x00"}}
			_, err := s.Accept(context.Background(), recs)
			require.NoError(t, err)
			_, err = s.DB().Exec(`UPDATE hookd_change SET findings = ''`)
			require.NoError(t, err)

			file := "migrations/sqlite/013_change_findings.sql"
			if be.name == "postgres" {
				file = "migrations/postgres/015_change_findings.sql"
			}
			script, err := os.ReadFile(file)
			require.NoError(t, err)
			update := string(script[strings.Index(string(script), "UPDATE"):])
			_, err = s.DB().Exec(update)
			require.NoError(t, err)

			got := map[string]string{}
			rows, err := s.DB().Query(`SELECT uuid, findings FROM hookd_change`)
			require.NoError(t, err)
			for rows.Next() {
				var k, f string
				require.NoError(t, rows.Scan(&k, &f))
				got[eventIDOf(k)] = f
			}
			require.NoError(t, rows.Err())
			assert.Equal(t, map[string]string{"with": ",self-grant,off-hours,", "without": ""}, got)
		})
	}
}
