package okta

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/hookd/hookd/internal/backoff"
)

// GroupMember is a user in a group, with what an alert or the Holders page names them by.
type GroupMember struct {
	ID    string
	Login string
	Email string
	// DisplayName is the profile's first and last name, or the login when it has neither,
	// so that a member is never shown nameless.
	DisplayName string
	Status      string // ACTIVE, PROVISIONED, SUSPENDED, DEPROVISIONED, …
}

// ErrGroupNotFound marks Okta's answer that a group does not exist (404 E0000007): a group
// deleted since hookd learnt of it, which therefore holds no role any more.
var ErrGroupNotFound = errors.New("group not found")

const (
	// memberPageSize is the page size asked for; Okta may answer with fewer, and links on.
	memberPageSize = 200
	// maxMemberPages bounds the paging: far more members than any group has, so that an
	// answer that always links on cannot keep the client reading forever.
	maxMemberPages = 1000
	// maxMemberAnswer bounds one page's answer, well above a full page of user profiles, so
	// that a runaway answer fails rather than filling memory.
	maxMemberAnswer = 16 << 20
	// maxRateWait bounds a wait for Okta's rate-limit window to one window's length: a reset
	// further ahead is a clock gone wrong, not a reason to stall a snapshot.
	maxRateWait = time.Minute
	// maxTooMany is how many 429s in a row one page may meet before the call gives up, so
	// that an org whose limit other clients exhaust does not hold the caller indefinitely.
	maxTooMany = 5
)

// GroupMembers lists the members of a group (GET /api/v1/groups/{id}/users), following
// Okta's next links within the org and honouring its rate limit as the System Log poller
// does: a 429 is waited out until the window resets, and when little of the window is left
// the next page waits for the reset, leaving room for the org's other clients. A group
// Okta does not know is ErrGroupNotFound; a credential without okta.groups.read is
// ErrForbidden.
func (c *Client) GroupMembers(ctx context.Context, groupID string) ([]GroupMember, error) {
	if groupID == "" {
		return nil, errors.New("group members: no group id")
	}
	// samePath compares with the link's decoded path; the request needs the escaped one.
	path := "/api/v1/groups/" + groupID + "/users"
	target := "/api/v1/groups/" + url.PathEscape(groupID) + "/users?limit=" + strconv.Itoa(memberPageSize)
	var members []GroupMember
	for range maxMemberPages {
		var users []groupUser
		h, err := c.pacedGet(ctx, target, &users)
		if e := (*APIError)(nil); errors.As(err, &e) && e.Status == http.StatusNotFound && e.Code == "E0000007" {
			return nil, fmt.Errorf("%w: %s: %w", ErrGroupNotFound, groupID, e)
		}
		if err != nil {
			return nil, err
		}
		for _, u := range users {
			members = append(members, u.member())
		}
		link := NextLink(h)
		if link == "" {
			return members, nil
		}
		if target, err = c.samePath(link, path); err != nil {
			return nil, err
		}
		if rateLow(h) {
			if err := backoff.Sleep(ctx, rateWait(h, time.Now())); err != nil {
				return nil, err
			}
		}
	}
	return nil, fmt.Errorf("GET %s: more pages than any group has", path)
}

// groupUser is the part of Okta's User object a member is named by.
type groupUser struct {
	ID      string `json:"id"`
	Status  string `json:"status"`
	Profile struct {
		Login     string `json:"login"`
		Email     string `json:"email"`
		FirstName string `json:"firstName"`
		LastName  string `json:"lastName"`
	} `json:"profile"`
}

func (u groupUser) member() GroupMember {
	name := strings.TrimSpace(u.Profile.FirstName + " " + u.Profile.LastName)
	if name == "" {
		name = u.Profile.Login
	}
	return GroupMember{ID: u.ID, Login: u.Profile.Login, Email: u.Profile.Email, DisplayName: name, Status: u.Status}
}

// pacedGet is a GET of the org's API, as do makes it, that waits out 429s and returns the
// answer's headers, which carry the next link and the rate limit do has no way to return.
func (c *Client) pacedGet(ctx context.Context, target string, out any) (http.Header, error) {
	for tries := 1; ; tries++ {
		status, h, body, err := c.get(ctx, target)
		if err != nil {
			return nil, err
		}
		if status == http.StatusTooManyRequests && tries < maxTooMany {
			if err := backoff.Sleep(ctx, rateWait(h, time.Now())); err != nil {
				return nil, err
			}
			continue
		}
		if status < 200 || status > 299 {
			return nil, refusal(status, h, body)
		}
		if err := json.Unmarshal(body, out); err != nil {
			return nil, fmt.Errorf("GET %s: unreadable answer: %w", pathOf(target), err)
		}
		return h, nil
	}
}

// get sends one GET of the org's API (send).
func (c *Client) get(ctx context.Context, target string) (int, http.Header, []byte, error) {
	return c.send(ctx, http.MethodGet, target, nil, maxMemberAnswer)
}

// pathOf is a request target without its query: the cursor says nothing to a reader.
func pathOf(target string) string {
	p, _, _ := strings.Cut(target, "?")
	return p
}

// rateLow reports an answer that leaves little of the rate-limit window, by the poller's
// threshold: the rest is the org's other clients' (the Admin Console's, too).
func rateLow(h http.Header) bool {
	remaining, rerr := strconv.Atoi(h.Get("X-Rate-Limit-Remaining"))
	limit, lerr := strconv.Atoi(h.Get("X-Rate-Limit-Limit"))
	return rerr == nil && lerr == nil && remaining <= max(1, limit/10)
}

// rateWait is how long to wait for the rate-limit window to reset: until X-Rate-Limit-Reset
// and a second more, as the poller waits, since Okta gives it in whole seconds and its clock
// is not ours; at most maxRateWait, which a missing reset waits too.
func rateWait(h http.Header, now time.Time) time.Duration {
	secs, err := strconv.ParseInt(h.Get("X-Rate-Limit-Reset"), 10, 64)
	if err != nil {
		return maxRateWait
	}
	return min(max(time.Unix(secs, 0).Sub(now), 0)+time.Second, maxRateWait)
}
