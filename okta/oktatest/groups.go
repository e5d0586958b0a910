package oktatest

import (
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Groups is a fake of the Groups API's member list, GET /api/v1/groups/{id}/users, as Okta
// answers it: User objects in order of id, pages cut at the limit asked (or PageSize), the
// next page behind an `after` cursor (the last id read) in a Link rel="next" on the
// request's own host, 404 E0000007 for a group it does not know, and, when asked,
// rate-limit headers, 429s and a 403. It checks no credentials: mount it on
// systemlogtest.Okta, which does (Mount("/api/v1/groups/", g)), or serve it alone.
//
// Set the fields before the first request.
type Groups struct {
	// PageSize, when set, is the most users a page holds whatever the limit asked, as an org
	// that answers with less than asked for.
	PageSize int
	// RateLimit, when set, is how many requests a window allows: each answer carries
	// X-Rate-Limit-Limit, -Remaining and -Reset, and a request beyond the limit is answered
	// 429 until the window resets.
	RateLimit int
	// Window is how long a rate-limit window lasts (default: a minute, as Okta's). Its reset
	// is sent in whole seconds, as Okta sends it, so a window shorter than a second shows a
	// reset that has already come.
	Window time.Duration
	// TooMany answers 429 to the next TooMany requests, with the window's reset.
	TooMany int
	// Forbidden answers 403 E0000006, as Okta answers a credential without okta.groups.read.
	Forbidden bool
	Now       func() time.Time

	mu       sync.Mutex
	groups   map[string][]Member
	requests int
	tooMany  int
	used     int
	resetAt  time.Time
}

// Member is a group member as the fake keeps it: the User object's id, status and the
// profile fields hookd reads.
type Member struct {
	ID, Login, Email, FirstName, LastName string
	// Status is the user's lifecycle status (default ACTIVE).
	Status string
}

// SetMembers makes the group exist with exactly these members (none: an empty group).
func (g *Groups) SetMembers(groupID string, members ...Member) {
	sorted := slices.Clone(members)
	slices.SortFunc(sorted, func(a, b Member) int { return strings.Compare(a.ID, b.ID) })
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.groups == nil {
		g.groups = map[string][]Member{}
	}
	g.groups[groupID] = sorted
}

// Requests counts the requests the fake has answered, refused ones too.
func (g *Groups) Requests() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.requests
}

// TooManyAnswered counts the 429s answered, by TooMany or by the RateLimit.
func (g *Groups) TooManyAnswered() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.tooMany
}

// maxMemberLimit is the largest page the fake gives, and what an absent limit reads as.
const maxMemberLimit = 1000

func (g *Groups) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.requests++
	if !g.paced(w) {
		return
	}
	id, rest, _ := strings.Cut(strings.TrimPrefix(r.URL.Path, "/api/v1/groups/"), "/")
	if !strings.HasPrefix(r.URL.Path, "/api/v1/groups/") || id == "" || rest != "users" {
		http.NotFound(w, r)
		return
	}
	if r.Method != http.MethodGet {
		oktaError(w, http.StatusMethodNotAllowed, "E0000022", "The endpoint does not support the provided HTTP method")
		return
	}
	if g.Forbidden {
		oktaError(w, http.StatusForbidden, "E0000006", "You do not have permission to perform the requested action")
		return
	}
	users, ok := g.groups[id]
	if !ok {
		oktaError(w, http.StatusNotFound, "E0000007", "Not found: Resource not found: "+id+" (UserGroup)")
		return
	}
	q := r.URL.Query()
	limit, err := strconv.Atoi(q.Get("limit"))
	if err != nil || limit <= 0 || limit > maxMemberLimit {
		limit = maxMemberLimit
	}
	if g.PageSize > 0 {
		limit = min(limit, g.PageSize)
	}
	start := 0
	if after := q.Get("after"); after != "" {
		// Okta's cursor is an id: a member removed since is no reason to lose the place.
		start, _ = slices.BinarySearchFunc(users, after, func(u Member, id string) int { return strings.Compare(u.ID, id) })
		if start < len(users) && users[start].ID == after {
			start++
		}
	}
	end := min(start+limit, len(users))

	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	base := scheme + "://" + r.Host + r.URL.EscapedPath()
	page := make([]map[string]any, 0, end-start)
	for _, u := range users[start:end] {
		status := u.Status
		if status == "" {
			status = "ACTIVE"
		}
		page = append(page, map[string]any{
			"id":     u.ID,
			"status": status,
			"type":   map[string]string{"id": "oty00000000000000000"},
			"profile": map[string]any{
				"firstName": profileValue(u.FirstName),
				"lastName":  profileValue(u.LastName),
				"email":     u.Email,
				"login":     u.Login,
			},
			"_links": map[string]any{"self": map[string]string{"href": scheme + "://" + r.Host + "/api/v1/users/" + url.PathEscape(u.ID)}},
		})
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Add("Link", "<"+base+"?"+r.URL.RawQuery+`>; rel="self"`)
	if end < len(users) {
		next := url.Values{"limit": {q.Get("limit")}, "after": {users[end-1].ID}}
		if next.Get("limit") == "" {
			next.Del("limit")
		}
		w.Header().Add("Link", "<"+base+"?"+next.Encode()+`>; rel="next"`)
	}
	_ = json.NewEncoder(w).Encode(page)
}

// paced counts the request against the rate limit, sets the rate-limit headers and answers
// a 429 when the window is spent or TooMany asks; the caller holds g.mu.
func (g *Groups) paced(w http.ResponseWriter) bool {
	now := time.Now()
	if g.Now != nil {
		now = g.Now()
	}
	window := g.Window
	if window <= 0 {
		window = time.Minute
	}
	if g.resetAt.IsZero() || !now.Before(g.resetAt) {
		g.used, g.resetAt = 0, now.Add(window)
	}
	g.used++
	reset := strconv.FormatInt(g.resetAt.Unix(), 10)
	if g.RateLimit > 0 {
		w.Header().Set("X-Rate-Limit-Limit", strconv.Itoa(g.RateLimit))
		w.Header().Set("X-Rate-Limit-Remaining", strconv.Itoa(max(g.RateLimit-g.used, 0)))
		w.Header().Set("X-Rate-Limit-Reset", reset)
	}
	if g.TooMany <= 0 && (g.RateLimit <= 0 || g.used <= g.RateLimit) {
		return true
	}
	if g.TooMany > 0 {
		g.TooMany--
	}
	g.tooMany++
	w.Header().Set("X-Rate-Limit-Reset", reset)
	oktaError(w, http.StatusTooManyRequests, "E0000047", "API call exceeded rate limit due to too many requests.")
	return false
}

// profileValue is Okta's rendering of an unset profile attribute: null, not "".
func profileValue(s string) any {
	if s == "" {
		return nil
	}
	return s
}
