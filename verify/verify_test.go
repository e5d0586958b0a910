package verify

import (
	"encoding/json"
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func header(kv ...string) http.Header {
	h := http.Header{}
	for i := 0; i < len(kv); i += 2 {
		h.Add(kv[i], kv[i+1])
	}
	return h
}

func TestCheck(t *testing.T) {
	a, err := New("authorization", []string{"current-secret", "previous-secret"})
	require.NoError(t, err)
	assert.Equal(t, "Authorization", a.Header())

	tests := []struct {
		name string
		h    http.Header
		want error
	}{
		{"current secret", header("Authorization", "current-secret"), nil},
		{"previous secret during rotation", header("Authorization", "previous-secret"), nil},
		{"header name in another case", header("AUTHORIZATION", "current-secret"), nil},
		{"no header", header(), ErrMissing},
		{"empty header", header("Authorization", ""), ErrMissing},
		{"wrong secret", header("Authorization", "guess"), ErrWrong},
		{"prefix of the secret", header("Authorization", "current"), ErrWrong},
		{"secret with more after it", header("Authorization", "current-secret2"), ErrWrong},
		{"secret in another header", header("X-Other", "current-secret"), ErrMissing},
		{"repeated header", header("Authorization", "guess", "Authorization", "current-secret"), ErrWrong},
		{"Basic scheme as a whole value", header("Authorization", "Basic current-secret"), ErrWrong},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, a.Check(tt.h))
		})
	}
}

func TestCustomHeaderAndBasicValue(t *testing.T) {
	a, err := New("X-Okta-Hook-Secret", []string{"Basic dXNlcjpwYXNz"})
	require.NoError(t, err)
	assert.NoError(t, a.Check(header("x-okta-hook-secret", "Basic dXNlcjpwYXNz")))
	assert.Equal(t, ErrMissing, a.Check(header("Authorization", "Basic dXNlcjpwYXNz")))
}

func TestNewRefusesUnusableSecrets(t *testing.T) {
	_, err := New("Authorization", nil)
	assert.ErrorIs(t, err, ErrNoSecrets)
	_, err = New("Authorization", []string{"ok", ""})
	assert.Error(t, err)
	_, err = New(" ", []string{"ok"})
	assert.Error(t, err)
}

func TestErrorsNeverCarryTheSecret(t *testing.T) {
	a, err := New("Authorization", []string{"the-real-secret"})
	require.NoError(t, err)
	for _, h := range []http.Header{header("Authorization", "the-real-secre"), header()} {
		err := a.Check(h)
		require.Error(t, err)
		assert.NotContains(t, err.Error(), "the-real-secret")
		assert.NotContains(t, err.Error(), "the-real-secre")
	}
}

func TestChallenge(t *testing.T) {
	for _, value := range []string{
		"0e5b9a9c-8b2b-4ed4-96d6-8d8b3e8f4c1a",
		`quote " and backslash \ and </script>`,
		"unicode ✓ and \u2028 line separator",
	} {
		body, err := Challenge(header("x-okta-verification-challenge", value))
		require.NoError(t, err)
		var got map[string]string
		require.NoError(t, json.Unmarshal(body, &got))
		assert.Equal(t, map[string]string{"verification": value}, got)
	}
	_, err := Challenge(header())
	assert.ErrorIs(t, err, ErrNoChallenge)
}

func BenchmarkCheck(b *testing.B) {
	a, _ := New("Authorization", []string{"one", "two", "three"})
	h := header("Authorization", "three")
	b.ReportAllocs()
	for b.Loop() {
		if a.Check(h) != nil {
			b.Fatal("rejected")
		}
	}
}
