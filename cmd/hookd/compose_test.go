package main

import (
	"os"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.yaml.in/yaml/v3"
)

type composeFile struct {
	Services map[string]struct {
		Image       string            `yaml:"image"`
		Profiles    []string          `yaml:"profiles"`
		Ports       []string          `yaml:"ports"`
		Environment map[string]string `yaml:"environment"`
		Build       *struct {
			Args map[string]string `yaml:"args"`
		} `yaml:"build"`
	} `yaml:"services"`
}

func readCompose(t *testing.T, name string) (composeFile, string) {
	t.Helper()
	data, err := os.ReadFile("../../" + name)
	require.NoError(t, err)
	var f composeFile
	require.NoError(t, yaml.Unmarshal(data, &f))
	return f, string(data)
}

// TestComposeFiles: these machines have no Docker engine, so the compose files are checked
// as text for the mistakes a new user hit: `docker compose up` must need nothing set and
// start only the SQLite hookd; the replicas setup is its own file, on port 8080.
func TestComposeFiles(t *testing.T) {
	plain, text := readCompose(t, "docker-compose.yml")
	assert.NotContains(t, text, ":?", "Compose fails on a required variable even in an inactive profile")
	require.Len(t, plain.Services, 1)
	hookd := plain.Services["hookd"]
	assert.Empty(t, hookd.Profiles)
	assert.Equal(t, []string{"8080:8080", "127.0.0.1:9090:9090"}, hookd.Ports, "the admin listener on the host's loopback only")
	assert.Contains(t, hookd.Build.Args["VERSION"], "HOOKD_VERSION", "the image says its version")

	require.NotNil(t, hookd.Build)
	replicas, _ := readCompose(t, "docker-compose.replicas.yml")
	assert.NotContains(t, replicas.Services, "hookd", "no SQLite hookd beside the replicas")
	// One image, built once, under a tag of its own.
	assert.NotNil(t, replicas.Services["hookd-a"].Build)
	assert.Nil(t, replicas.Services["hookd-b"].Build)
	assert.Equal(t, replicas.Services["hookd-a"].Image, replicas.Services["hookd-b"].Image)
	assert.NotEqual(t, hookd.Image, replicas.Services["hookd-a"].Image)
	assert.Equal(t, []string{"8080:8080"}, replicas.Services["proxy"].Ports)
	for _, name := range []string{"hookd-a", "hookd-b"} {
		s := replicas.Services[name]
		for _, p := range s.Ports {
			assert.True(t, strings.HasPrefix(p, "127.0.0.1:") && strings.HasSuffix(p, ":9090"),
				"%s: Okta reaches it through the proxy only; its admin listener is on the host's loopback (%s)", name, p)
		}
		assert.Equal(t, "/data/admin-token", s.Environment["HOOKD_ADMIN_TOKEN_FILE"])
		// Without the shared secret compose refuses to start them, instead of their restarting
		// in a loop.
		assert.True(t, strings.HasPrefix(s.Environment["HOOKD_OKTA_SECRETS"], "${HOOKD_OKTA_SECRETS:?set HOOKD_OKTA_SECRETS"), name)
		assert.Equal(t, name, s.Environment["HOOKD_REPLICA_ID"])
		assert.NotContains(t, s.Environment["HOOKD_TRUSTED_PROXIES"], "0.0.0.0/0")
	}
	dockerfile, err := os.ReadFile("../../Dockerfile")
	require.NoError(t, err)
	assert.Contains(t, string(dockerfile), `HEALTHCHECK`, "the image checks itself")
	assert.Contains(t, string(dockerfile), `CMD ["/hookd", "healthcheck"]`, "with hookd, as it has no shell")
	assert.Contains(t, string(dockerfile), "FROM golang:1.27.3", "built with the patched Go")
	assert.Contains(t, string(dockerfile), "HOOKD_ADMIN_ADDR=:9090 HOOKD_ADMIN_TOKEN_FILE=/data/admin-token", "the published admin listener has a token")
	assert.Contains(t, string(dockerfile), "EXPOSE 8080 9090")

	security, err := os.ReadFile("../../docs/security.md")
	require.NoError(t, err)
	assert.Contains(t, string(security), "docker compose cp\nhookd:/data/admin-token - | tar -xO", "cp to - writes a tar archive")

	readme, err := os.ReadFile("../../README.md")
	require.NoError(t, err)
	assert.True(t, strings.Contains(string(readme), "docker compose -f docker-compose.replicas.yml up"), "README says how to run the replicas")
}
