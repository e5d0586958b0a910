package main

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hookd/hookd/internal/oktagen"
)

func TestNullReceiverTakesOnlyAuthenticatedDeliveries(t *testing.T) {
	var n atomic.Int64
	srv := httptest.NewServer(nullHandler("Authorization", "Bearer s3cret", &n))
	defer srv.Close()
	post := func(secret string) int {
		req, err := http.NewRequest(http.MethodPost, srv.URL+"/okta/events", strings.NewReader(string(oktagen.Mixed(10, 3, 0))))
		require.NoError(t, err)
		req.Header.Set("Authorization", secret)
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		resp.Body.Close()
		return resp.StatusCode
	}
	assert.Equal(t, http.StatusOK, post("Bearer s3cret"))
	assert.Equal(t, http.StatusUnauthorized, post("Bearer wrong"))
	assert.Equal(t, http.StatusUnauthorized, post(""))
	assert.Equal(t, int64(1), n.Load(), "only the authenticated delivery is counted")

	resp, err := http.Get(srv.URL + "/okta/events")
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusUnauthorized, resp.StatusCode, "only POSTs are deliveries")
}
