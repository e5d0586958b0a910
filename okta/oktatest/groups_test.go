package oktatest_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hookd/hookd/okta/oktatest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var nextLink = regexp.MustCompile(`<([^>]*)>; rel="next"`)

// getMembers reads one page as Okta's client would see it: the users and the next link.
func getMembers(t *testing.T, target string) (*http.Response, []map[string]any, string) {
	t.Helper()
	resp, err := http.Get(target)
	require.NoError(t, err)
	defer resp.Body.Close()
	var users []map[string]any
	if resp.StatusCode == http.StatusOK {
		require.NoError(t, json.NewDecoder(resp.Body).Decode(&users))
	}
	next := ""
	for _, v := range resp.Header.Values("Link") {
		if m := nextLink.FindStringSubmatch(v); m != nil {
			next = m[1]
		}
	}
	return resp, users, next
}

func TestGroupsPagesByCursorOnTheRequestsHost(t *testing.T) {
	g := &oktatest.Groups{PageSize: 2}
	g.SetMembers("00g1",
		oktatest.Member{ID: "00u3", Login: "c@acme.example"},
		oktatest.Member{ID: "00u1", Login: "a@acme.example", FirstName: "Ann"},
		oktatest.Member{ID: "00u2", Login: "b@acme.example"},
		oktatest.Member{ID: "00u4", Login: "d@acme.example"},
		oktatest.Member{ID: "00u5", Login: "e@acme.example"})
	srv := httptest.NewServer(g)
	defer srv.Close()

	resp, users, next := getMembers(t, srv.URL+"/api/v1/groups/00g1/users?limit=200")
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Len(t, users, 2)
	assert.Equal(t, "00u1", users[0]["id"], "in order of id")
	assert.Equal(t, "ACTIVE", users[0]["status"])
	assert.Equal(t, map[string]any{"login": "a@acme.example", "email": "", "firstName": "Ann", "lastName": nil}, users[0]["profile"])
	u, err := url.Parse(next)
	require.NoError(t, err)
	assert.Equal(t, srv.URL, u.Scheme+"://"+u.Host, "an absolute link on the request's host")
	assert.Equal(t, "/api/v1/groups/00g1/users", u.Path)
	assert.Equal(t, url.Values{"after": {"00u2"}, "limit": {"200"}}, u.Query())

	// A member removed between pages does not lose the place: the cursor is an id.
	g.SetMembers("00g1", oktatest.Member{ID: "00u1"}, oktatest.Member{ID: "00u3"}, oktatest.Member{ID: "00u4"}, oktatest.Member{ID: "00u5"})
	_, users, next = getMembers(t, next)
	require.Len(t, users, 2)
	assert.Equal(t, "00u3", users[0]["id"])
	_, users, last := getMembers(t, next)
	require.Len(t, users, 1)
	assert.Equal(t, "00u5", users[0]["id"])
	assert.Empty(t, last, "no next link after the last page")
	assert.Equal(t, 3, g.Requests())
}

func TestGroupsAnswersAsOktaDoes(t *testing.T) {
	g := &oktatest.Groups{}
	g.SetMembers("00gEmpty")
	srv := httptest.NewServer(g)
	defer srv.Close()

	resp, users, next := getMembers(t, srv.URL+"/api/v1/groups/00gEmpty/users")
	assert.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Empty(t, users)
	assert.Empty(t, next)

	resp, err := http.Get(srv.URL + "/api/v1/groups/00gGone/users")
	require.NoError(t, err)
	var body struct{ ErrorCode string }
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&body))
	resp.Body.Close()
	assert.Equal(t, http.StatusNotFound, resp.StatusCode)
	assert.Equal(t, "E0000007", body.ErrorCode)

	resp, err = http.Get(srv.URL + "/api/v1/groups/00gEmpty/roles")
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusNotFound, resp.StatusCode, "an API the fake does not serve")

	resp, err = http.Post(srv.URL+"/api/v1/groups/00gEmpty/users", "application/json", nil)
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusMethodNotAllowed, resp.StatusCode)
}

func TestGroupsForbidden(t *testing.T) {
	g := &oktatest.Groups{Forbidden: true}
	g.SetMembers("00g1")
	srv := httptest.NewServer(g)
	defer srv.Close()
	resp, err := http.Get(srv.URL + "/api/v1/groups/00g1/users")
	require.NoError(t, err)
	var body struct{ ErrorCode string }
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&body))
	resp.Body.Close()
	assert.Equal(t, http.StatusForbidden, resp.StatusCode)
	assert.Equal(t, "E0000006", body.ErrorCode)
}

func TestGroupsRateLimit(t *testing.T) {
	var clock atomic.Int64 // the fake's Now, in Unix seconds: the server reads it concurrently
	clock.Store(1_700_000_000)
	now := time.Unix(clock.Load(), 0)
	g := &oktatest.Groups{RateLimit: 2, TooMany: 1, Now: func() time.Time { return time.Unix(clock.Load(), 0) }}
	g.SetMembers("00g1")
	srv := httptest.NewServer(g)
	defer srv.Close()

	var statuses, remaining []string
	for range 4 {
		resp, err := http.Get(srv.URL + "/api/v1/groups/00g1/users")
		require.NoError(t, err)
		resp.Body.Close()
		statuses = append(statuses, strconv.Itoa(resp.StatusCode))
		remaining = append(remaining, resp.Header.Get("X-Rate-Limit-Remaining"))
		assert.Equal(t, "2", resp.Header.Get("X-Rate-Limit-Limit"))
		assert.Equal(t, strconv.FormatInt(now.Add(time.Minute).Unix(), 10), resp.Header.Get("X-Rate-Limit-Reset"))
	}
	assert.Equal(t, []string{"429", "200", "429", "429"}, statuses, "TooMany, then the window's limit")
	assert.Equal(t, []string{"1", "0", "0", "0"}, remaining)
	assert.Equal(t, 3, g.TooManyAnswered())

	clock.Add(int64(time.Minute / time.Second))
	resp, err := http.Get(srv.URL + "/api/v1/groups/00g1/users")
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusOK, resp.StatusCode, "a new window")
	assert.Equal(t, "1", resp.Header.Get("X-Rate-Limit-Remaining"))
	assert.Equal(t, 5, g.Requests())
}
