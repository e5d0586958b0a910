package main

import (
	"os"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestHelpAndVersion(t *testing.T) {
	for _, args := range [][]string{{"-h"}, {"--help"}, {"help"}} {
		code, stdout, _ := run(map[string]string{}, args...) // asked for: on standard output
		assert.Equal(t, 0, code, args)
		for _, cmd := range []string{"serve", "replay", "check", "healthcheck", "version"} {
			assert.Contains(t, stdout, "\n  "+cmd, "%v lists %s", args, cmd)
		}
	}
	for _, args := range [][]string{{"version"}, {"--version"}} {
		code, stdout, _ := run(map[string]string{}, args...)
		assert.Equal(t, 0, code, args)
		assert.True(t, strings.HasPrefix(stdout, "hookd "), stdout)
		assert.Contains(t, stdout, "go1.", "a development build says what the go command recorded")
	}
	for _, cmd := range []string{"replay", "check", "serve", "healthcheck"} {
		code, stdout, _ := run(map[string]string{}, cmd, "--help")
		assert.Equal(t, 0, code, cmd)
		assert.Contains(t, stdout, "-config", cmd)
	}
}

// TestReplayFromAnywhere: the samples are in the binary, the URL comes from
// HOOKD_LISTEN_ADDR, and a hookd that is not running is one clear error.
func TestReplayFromAnywhere(t *testing.T) {
	dir := t.TempDir()
	env := map[string]string{"HOOKD_DATA_DIR": dir, "HOOKD_OKTA_SECRETS": "replay-secret"}
	srv := start(t, env)

	wd, err := os.Getwd()
	require.NoError(t, err)
	require.NoError(t, os.Chdir(t.TempDir())) // no testdata here
	t.Cleanup(func() { _ = os.Chdir(wd) })

	replayEnv := map[string]string{"HOOKD_DATA_DIR": dir, "HOOKD_OKTA_SECRETS": "replay-secret", "HOOKD_LISTEN_ADDR": srv.addr}
	code, stdout, stderr := run(replayEnv, "replay")
	assert.Equal(t, 0, code, stdout+stderr)
	assert.Contains(t, stdout, "workflows-user-role-add.json")
	assert.NotContains(t, stdout, "UNEXPECTED")

	code, stdout, _ = run(replayEnv, "healthcheck")
	assert.Equal(t, 0, code)
	assert.Equal(t, "ok\n", stdout)

	srv.stop()
	code, _, _ = run(replayEnv, "healthcheck")
	assert.Equal(t, 1, code, "healthcheck fails when hookd does not answer")
	code, stdout, stderr = run(replayEnv, "replay")
	assert.Equal(t, 1, code)
	assert.Empty(t, stdout, "stops at the first connection error, not one per file")
	assert.Contains(t, stderr, "is hookd serve running")
	assert.Equal(t, 1, strings.Count(stderr, "\n"))
}
