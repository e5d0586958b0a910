package outbound

import (
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestNoRedirectAndNoURLInErrors(t *testing.T) {
	target := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	defer target.Close()
	redirect := httptest.NewServer(http.RedirectHandler(target.URL, http.StatusFound))
	defer redirect.Close()

	_, err := Client(time.Second).Get(redirect.URL + "/services/T000/B000/SECRET")
	require.Error(t, err)
	assert.Equal(t, "answered with a redirect, which hookd does not follow", Describe(err))

	_, err = Client(time.Second).Get("http://127.0.0.1:1/services/T000/B000/SECRET")
	require.Error(t, err)
	assert.NotContains(t, Describe(err), "SECRET")
	assert.Contains(t, Describe(err), "connection refused")
}
