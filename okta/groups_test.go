package okta_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/hookd/hookd/okta"
	"github.com/hookd/hookd/okta/oktatest"
	"github.com/hookd/hookd/systemlog/systemlogtest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// someMembers are n members with ids in the order Okta lists them.
func someMembers(n int) []oktatest.Member {
	out := make([]oktatest.Member, n)
	for i := range out {
		out[i] = oktatest.Member{ID: fmt.Sprintf("00u%04d", i), Login: fmt.Sprintf("u%d@acme.example", i),
			Email: fmt.Sprintf("u%d@acme.example", i), FirstName: "User", LastName: strconv.Itoa(i)}
	}
	return out
}

// groupsOrg serves g alone, as an org without credentials checks.
func groupsOrg(t *testing.T, g *oktatest.Groups) *okta.Client {
	t.Helper()
	srv := httptest.NewServer(g)
	t.Cleanup(srv.Close)
	return &okta.Client{OrgURL: srv.URL, Credentials: okta.APIToken("t")}
}

// timed records when each request arrived and the rate-limit reset its answer named, so a
// test can see that the client waited for the reset it was told.
type timed struct {
	next     http.Handler
	mu       sync.Mutex
	arrivals []time.Time
	resets   []time.Time
}

func (h *timed) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h.mu.Lock()
	h.arrivals = append(h.arrivals, time.Now())
	h.mu.Unlock()
	h.next.ServeHTTP(w, r)
	secs, _ := strconv.ParseInt(w.Header().Get("X-Rate-Limit-Reset"), 10, 64)
	h.mu.Lock()
	h.resets = append(h.resets, time.Unix(secs, 0))
	h.mu.Unlock()
}

func TestGroupMembersPages(t *testing.T) {
	for _, tc := range []struct {
		name            string
		members, pageSz int
		requests        int
	}{
		{"several pages", 450, 0, 3},
		{"the org answers less than asked", 450, 100, 5},
		{"exactly one page", 200, 0, 1},
		{"an empty group", 0, 0, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g := &oktatest.Groups{PageSize: tc.pageSz}
			want := someMembers(tc.members)
			g.SetMembers("00gFlowBuilders", want...)
			got, err := groupsOrg(t, g).GroupMembers(context.Background(), "00gFlowBuilders")
			require.NoError(t, err)
			require.Len(t, got, tc.members)
			for i, m := range got {
				assert.Equal(t, want[i].ID, m.ID)
			}
			assert.Equal(t, tc.requests, g.Requests())
		})
	}
}

func TestGroupMembersNamesEachMember(t *testing.T) {
	g := &oktatest.Groups{}
	g.SetMembers("00g1",
		oktatest.Member{ID: "00u1", Login: "ann@acme.example", Email: "ann@mail.example", FirstName: "Ann", LastName: "Lee"},
		oktatest.Member{ID: "00u2", Login: "svc-bot@acme.example", Status: "SUSPENDED"},
		oktatest.Member{ID: "00u3", Login: "cher@acme.example", FirstName: "Cher"})
	got, err := groupsOrg(t, g).GroupMembers(context.Background(), "00g1")
	require.NoError(t, err)
	assert.Equal(t, []okta.GroupMember{
		{ID: "00u1", Login: "ann@acme.example", Email: "ann@mail.example", DisplayName: "Ann Lee", Status: "ACTIVE"},
		{ID: "00u2", Login: "svc-bot@acme.example", DisplayName: "svc-bot@acme.example", Status: "SUSPENDED"},
		{ID: "00u3", Login: "cher@acme.example", DisplayName: "Cher", Status: "ACTIVE"},
	}, got)
}

// TestGroupMembersFollowsOnlyLinksWithinTheGroup: a next link elsewhere (another host, scheme
// or path, another group's members too) is refused before it is followed, so an answer cannot
// send the credentials away; links are found however Okta writes the header.
func TestGroupMembersFollowsOnlyLinksWithinTheGroup(t *testing.T) {
	for _, tc := range []struct {
		name    string
		link    func(org string) []string // Link header values of the first page
		follows bool
	}{
		{"self and next in separate headers", func(org string) []string {
			return []string{"<" + org + `/api/v1/groups/00g1/users?limit=200>; rel="self"`, "<" + org + `/api/v1/groups/00g1/users?after=00u1&limit=200>; rel="next"`}
		}, true},
		{"self and next in one header", func(org string) []string {
			return []string{"<" + org + `/api/v1/groups/00g1/users?limit=200>; rel="self", <` + org + `/api/v1/groups/00g1/users?after=00u1,x&limit=200>; rel=next`}
		}, true},
		{"another host", func(string) []string {
			return []string{`<https://evil.example/api/v1/groups/00g1/users?after=00u1>; rel="next"`}
		}, false},
		{"another scheme", func(org string) []string {
			return []string{"<https" + org[len("http"):] + `/api/v1/groups/00g1/users?after=00u1>; rel="next"`}
		}, false},
		{"another group", func(org string) []string {
			return []string{"<" + org + `/api/v1/groups/00g2/users?after=00u1>; rel="next"`}
		}, false},
		{"another API of the org", func(org string) []string {
			return []string{"<" + org + `/api/v1/users?after=00u1>; rel="next"`}
		}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var mu sync.Mutex
			var seen []string
			var srv *httptest.Server
			srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				mu.Lock()
				seen = append(seen, r.URL.RequestURI())
				first := len(seen) == 1
				mu.Unlock()
				w.Header().Set("Content-Type", "application/json")
				if first {
					for _, v := range tc.link(srv.URL) {
						w.Header().Add("Link", v)
					}
					_, _ = w.Write([]byte(`[{"id":"00u1","status":"ACTIVE","profile":{"login":"a@acme.example"}}]`))
					return
				}
				_, _ = w.Write([]byte(`[{"id":"00u2","status":"ACTIVE","profile":{"login":"b@acme.example"}}]`))
			}))
			t.Cleanup(srv.Close)
			c := &okta.Client{OrgURL: srv.URL, Credentials: okta.APIToken("t")}
			got, err := c.GroupMembers(context.Background(), "00g1")
			if !tc.follows {
				require.Error(t, err)
				assert.Contains(t, err.Error(), "the next link leaves the org")
				assert.Len(t, seen, 1)
				return
			}
			require.NoError(t, err)
			assert.Len(t, got, 2)
			require.Len(t, seen, 2)
			assert.Contains(t, seen[1], "after=00u1")
		})
	}
}

func TestGroupMembersOfAnUnknownGroup(t *testing.T) {
	g := &oktatest.Groups{}
	_, err := groupsOrg(t, g).GroupMembers(context.Background(), "00gGone")
	require.ErrorIs(t, err, okta.ErrGroupNotFound)
	assert.NotErrorIs(t, err, okta.ErrForbidden)
	var apiErr *okta.APIError
	require.ErrorAs(t, err, &apiErr)
	assert.Equal(t, "E0000007", apiErr.Code)
	assert.Contains(t, err.Error(), "00gGone")
}

func TestGroupMembersWithoutThePermission(t *testing.T) {
	g := &oktatest.Groups{Forbidden: true}
	g.SetMembers("00g1", someMembers(3)...)
	_, err := groupsOrg(t, g).GroupMembers(context.Background(), "00g1")
	require.ErrorIs(t, err, okta.ErrForbidden)
	assert.NotErrorIs(t, err, okta.ErrGroupNotFound)
}

// timedOrg is a client of g behind timed, which keeps when each request came and what reset
// each answer told.
func timedOrg(t *testing.T, g *oktatest.Groups) (*okta.Client, *timed) {
	h := &timed{next: g}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return &okta.Client{OrgURL: srv.URL, Credentials: okta.APIToken("t")}, h
}

func TestGroupMembersWaitsOutA429(t *testing.T) {
	t.Parallel()
	g := &oktatest.Groups{TooMany: 1, Window: time.Millisecond}
	g.SetMembers("00g1", someMembers(250)...)
	c, h := timedOrg(t, g)

	got, err := c.GroupMembers(context.Background(), "00g1")
	require.NoError(t, err)
	assert.Len(t, got, 250)
	assert.Equal(t, 1, g.TooManyAnswered())
	require.Equal(t, 3, g.Requests(), "the refused page asked again, then the next")
	assert.False(t, h.arrivals[1].Before(h.resets[0].Add(time.Second)), "asked again only after the reset it was told")
}

func TestGroupMembersWaitsForTheResetWhenLittleIsLeft(t *testing.T) {
	t.Parallel()
	// A window of one request leaves nothing after each: every next page waits for the reset.
	g := &oktatest.Groups{RateLimit: 1, Window: time.Millisecond}
	g.SetMembers("00g1", someMembers(300)...)
	c, h := timedOrg(t, g)

	got, err := c.GroupMembers(context.Background(), "00g1")
	require.NoError(t, err)
	assert.Len(t, got, 300)
	assert.Zero(t, g.TooManyAnswered())
	require.Equal(t, 2, g.Requests())
	assert.False(t, h.arrivals[1].Before(h.resets[0].Add(time.Second)), "the next page waited for the reset")
}

func TestGroupMembersStopsWaitingWhenTheContextEnds(t *testing.T) {
	t.Parallel()
	g := &oktatest.Groups{TooMany: 1 << 20} // a long window, spent and staying so
	g.SetMembers("00g1", someMembers(3)...)
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := groupsOrg(t, g).GroupMembers(ctx, "00g1")
	require.ErrorIs(t, err, context.DeadlineExceeded)
	assert.Less(t, time.Since(start), 5*time.Second)
	assert.Equal(t, 1, g.Requests())
}

// TestGroupMembersThroughTheOrg: mounted on the fake org, behind its SSWS check, as hookd
// meets the Groups API next to the System Log; a refused token is Okta's 401, without it.
func TestGroupMembersThroughTheOrg(t *testing.T) {
	org := systemlogtest.NewOkta(t, "ssws-secret")
	g := &oktatest.Groups{}
	g.SetMembers("00g1", someMembers(450)...)
	org.Mount("/api/v1/groups/", g)

	c := &okta.Client{OrgURL: org.URL, Credentials: okta.APIToken("ssws-secret")}
	got, err := c.GroupMembers(context.Background(), "00g1")
	require.NoError(t, err)
	assert.Len(t, got, 450)
	assert.Equal(t, 3, g.Requests())
	assert.Equal(t, 3, org.Requests())

	c.Credentials = okta.APIToken("ssws-revoked")
	_, err = c.GroupMembers(context.Background(), "00g1")
	var apiErr *okta.APIError
	require.ErrorAs(t, err, &apiErr)
	assert.Equal(t, http.StatusUnauthorized, apiErr.Status)
	assert.NotContains(t, err.Error(), "ssws-revoked")
	assert.Equal(t, 3, g.Requests(), "refused before the Groups API")
}

// TestGroupMembersWithDPoP: a service app's DPoP-bound token works for every page, with the
// API's nonce challenge answered and a fresh proof on each request.
func TestGroupMembersWithDPoP(t *testing.T) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	org := systemlogtest.NewOkta(t, "ssws-secret")
	oauth := oktatest.NewOAuth("0oaHookd", &key.PublicKey, "okta.groups.read")
	oauth.ResourceNonce = true
	org.OAuth = oauth
	g := &oktatest.Groups{}
	g.SetMembers("00g1", someMembers(450)...)
	org.Mount("/api/v1/groups/", g)

	app := &okta.ServiceApp{TokenURL: org.URL + oktatest.TokenPath, ClientID: "0oaHookd", Key: key,
		Scopes: []string{"okta.groups.read"}, DPoPKeyFile: filepath.Join(t.TempDir(), "okta-dpop-key.pem")}
	c := &okta.Client{OrgURL: org.URL, Credentials: app}
	got, err := c.GroupMembers(context.Background(), "00g1")
	require.NoError(t, err)
	assert.Len(t, got, 450)
	assert.Equal(t, 3, g.Requests())
	assert.Equal(t, []string{"token: use_dpop_nonce", "api: use_dpop_nonce"}, oauth.Answers())
	proofs := oauth.Proofs()
	seen := map[string]bool{}
	for _, p := range proofs {
		assert.False(t, seen[p], "a proof is never reused")
		seen[p] = true
	}
}
