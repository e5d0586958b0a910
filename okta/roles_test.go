package okta

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestRoleAssigneesNeverFollowALinkOffTheOrg(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"value":[{"id":"00u1"}],"_links":{"next":{"href":"https://evil.example/api/v1/iam/assignees/users?after=00u1"}}}`))
	}))
	defer srv.Close()
	c := &Client{OrgURL: srv.URL, Credentials: APIToken("t")}
	_, err := c.ListRoleAssignees(context.Background())
	require.Error(t, err)
	assert.Contains(t, err.Error(), "the next link leaves the org")
	_, err = c.samePath(srv.URL+"/api/v1/users", "/api/v1/iam/assignees/users")
	assert.Error(t, err, "another path of the org is refused too")
	p, err := c.samePath(srv.URL+"/api/v1/iam/assignees/users?after=x&limit=200", "/api/v1/iam/assignees/users")
	require.NoError(t, err)
	assert.Equal(t, "/api/v1/iam/assignees/users?after=x&limit=200", p)
}
