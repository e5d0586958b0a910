// Package systemlogtest is a fake Okta System Log API for tests: since, until, after cursors,
// limit, the eventType filter, Link rel="next", rate-limit headers, 429 and 401, with events
// that arrive while it runs; with an AuthorizationServer, a service app's OAuth tokens
// (DPoP-bound or Bearer) as well as the SSWS token.
package systemlogtest

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Okta is the fake org.
type Okta struct {
	*httptest.Server
	// Token is the accepted SSWS token; Bearer is an accepted OAuth access token.
	Token, Bearer string
	// OAuth, when set, is the org's authorization server: it answers /oauth2/v1/token, and
	// judges every API call that does not carry the SSWS token (oktatest.OAuth, with DPoP).
	OAuth AuthorizationServer
	// RateLimit is how many requests a window allows (0: no limit); the window resets every
	// second of the Now clock.
	RateLimit int
	// TooMany answers 429 to the next TooMany requests.
	TooMany int
	// Fail answers 503 to the next Fail requests.
	Fail int
	// Delay slows each answer, to show overlapping pollers.
	Delay time.Duration
	Now   func() time.Time

	mu        sync.Mutex
	mounted   map[string]http.Handler
	events    []event
	used      int
	requests  int
	inFlight  int
	maxIn     int
	refused   int
	failAfter int // -1: off
}

// AuthorizationServer is an org's token endpoint (ServeHTTP) and the check its API makes
// of a call's OAuth token (Check answers a refusal itself and returns false).
type AuthorizationServer interface {
	http.Handler
	Check(w http.ResponseWriter, r *http.Request) bool
}

type event struct {
	typ       string
	published time.Time
	raw       json.RawMessage
}

// NewOkta starts a fake org accepting "SSWS <token>"; it stops with the test.
func NewOkta(t interface{ Cleanup(func()) }, token string) *Okta {
	o := &Okta{Token: token, Now: time.Now, failAfter: -1}
	o.Server = httptest.NewServer(http.HandlerFunc(o.serve))
	t.Cleanup(o.Close)
	return o
}

// SetToken changes the accepted SSWS token, as an admin revoking one would.
func (o *Okta) SetToken(token string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.Token = token
}

// AddRaw appends an event as Okta wrote it.
func (o *Okta) AddRaw(eventType string, published time.Time, raw json.RawMessage) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.events = append(o.events, event{eventType, published, raw})
}

// Add appends an event of the type, published at the time, to the log.
func (o *Okta) Add(uuid, eventType string, published time.Time) {
	raw := fmt.Sprintf(`{"uuid":%q,"published":%q,"eventType":%q,"version":"0","severity":"INFO",
		"actor":{"id":"00uAdmin","type":"User","alternateId":"admin@acme.example","displayName":"Admin"},
		"outcome":{"result":"SUCCESS"},"transaction":{"type":"WEB","id":"tx-%s"},
		"target":[{"id":"00uBob","type":"User","alternateId":"bob@acme.example","displayName":"Bob"},
		{"id":"r1","type":"WorkflowsRole","displayName":"Folder Editor"}]}`,
		uuid, published.UTC().Format("2006-01-02T15:04:05.000Z"), eventType, uuid)
	o.mu.Lock()
	defer o.mu.Unlock()
	o.events = append(o.events, event{eventType, published, json.RawMessage(raw)})
}

// Mount serves the org's other APIs under prefix (the Groups API, say) on the same host, as
// a real org does, behind the same credentials check and counted with the rest; h is called
// without the fake's lock.
func (o *Okta) Mount(prefix string, h http.Handler) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.mounted == nil {
		o.mounted = map[string]http.Handler{}
	}
	o.mounted[prefix] = h
}

// authorized reports whether r carries the org's credentials (the SSWS token, the Bearer
// token, or an OAuth token the authorization server accepts with its DPoP proof), answering
// the refusal when not; the caller holds o.mu.
func (o *Okta) authorized(w http.ResponseWriter, r *http.Request) bool {
	auth := r.Header.Get("Authorization")
	switch {
	case auth == "SSWS "+o.Token || (o.Bearer != "" && auth == "Bearer "+o.Bearer):
		return true
	case o.OAuth != nil && auth != "" && !strings.HasPrefix(auth, "SSWS "):
		return o.OAuth.Check(w, r)
	}
	refuse(w)
	return false
}

func refuse(w http.ResponseWriter) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusUnauthorized)
	fmt.Fprint(w, `{"errorCode":"E0000011","errorSummary":"Invalid token provided"}`)
}

// Requests counts the requests so far; MaxInFlight is the most answered at once.
func (o *Okta) Requests() int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.requests
}

// MaxInFlight is the most requests that were being answered at the same time.
func (o *Okta) MaxInFlight() int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.maxIn
}

var filterType = regexp.MustCompile(`eventType eq "([^"]+)"`)

func (o *Okta) serve(w http.ResponseWriter, r *http.Request) {
	o.mu.Lock()
	o.requests++
	o.inFlight++
	o.maxIn = max(o.maxIn, o.inFlight)
	delay := o.Delay
	o.mu.Unlock()
	defer func() {
		o.mu.Lock()
		o.inFlight--
		o.mu.Unlock()
	}()
	time.Sleep(delay)

	o.mu.Lock()
	if as := o.OAuth; as != nil && r.URL.Path == "/oauth2/v1/token" {
		o.mu.Unlock()
		as.ServeHTTP(w, r)
		return
	}
	for prefix, h := range o.mounted {
		if strings.HasPrefix(r.URL.Path, prefix) {
			ok := o.authorized(w, r)
			o.mu.Unlock()
			if ok {
				h.ServeHTTP(w, r)
			}
			return
		}
	}
	defer o.mu.Unlock()
	if r.URL.Path != "/api/v1/logs" {
		http.NotFound(w, r)
		return
	}
	if !o.authorized(w, r) {
		return
	}
	now := o.Now()
	reset := now.Truncate(time.Second).Add(time.Second)
	o.used++
	if o.RateLimit > 0 {
		w.Header().Set("X-Rate-Limit-Limit", strconv.Itoa(o.RateLimit))
		w.Header().Set("X-Rate-Limit-Remaining", strconv.Itoa(max(o.RateLimit-o.used, 0)))
		w.Header().Set("X-Rate-Limit-Reset", strconv.FormatInt(reset.Unix(), 10))
	}
	if o.TooMany > 0 || (o.RateLimit > 0 && o.used > o.RateLimit) {
		if o.TooMany > 0 {
			o.TooMany--
		} else {
			o.refused++
		}
		w.Header().Set("X-Rate-Limit-Reset", strconv.FormatInt(reset.Unix(), 10))
		w.WriteHeader(http.StatusTooManyRequests)
		fmt.Fprint(w, `{"errorCode":"E0000047","errorSummary":"API call exceeded rate limit due to too many requests."}`)
		return
	}
	if o.failAfter == 0 {
		o.Fail++
	}
	if o.failAfter >= 0 {
		o.failAfter--
	}
	if o.Fail > 0 {
		o.Fail--
		http.Error(w, "unavailable", http.StatusServiceUnavailable)
		return
	}

	q := r.URL.Query()
	types := map[string]bool{}
	for _, m := range filterType.FindAllStringSubmatch(q.Get("filter"), -1) {
		types[m[1]] = true
	}
	limit, _ := strconv.Atoi(q.Get("limit"))
	if limit <= 0 || limit > 1000 {
		limit = 100
	}
	start := 0
	if after := q.Get("after"); after != "" {
		start, _ = strconv.Atoi(after)
	} else if since := q.Get("since"); since != "" {
		t, err := time.Parse(time.RFC3339, since)
		if err != nil {
			http.Error(w, `{"errorCode":"E0000001"}`, http.StatusBadRequest)
			return
		}
		for start < len(o.events) && o.events[start].published.Before(t) {
			start++
		}
	}
	var until time.Time
	if u := q.Get("until"); u != "" {
		var err error
		if until, err = time.Parse(time.RFC3339, u); err != nil {
			http.Error(w, `{"errorCode":"E0000001"}`, http.StatusBadRequest)
			return
		}
	}
	var page []json.RawMessage
	i := start
	for ; i < len(o.events) && len(page) < limit; i++ {
		if !until.IsZero() && !o.events[i].published.Before(until) {
			break
		}
		if len(types) == 0 || types[o.events[i].typ] {
			page = append(page, o.events[i].raw)
		}
	}
	next := url.Values{"after": {strconv.Itoa(i)}, "filter": {q.Get("filter")}, "limit": {q.Get("limit")}, "sortOrder": {"ASCENDING"}}
	if !until.IsZero() {
		next.Set("until", q.Get("until"))
	}
	base := "http://" + r.Host + "/api/v1/logs?"
	w.Header().Add("Link", `<`+base+r.URL.RawQuery+`>; rel="self"`)
	w.Header().Add("Link", `<`+base+next.Encode()+`>; rel="next"`)
	w.Header().Set("Content-Type", "application/json")
	if page == nil {
		page = []json.RawMessage{}
	}
	_ = json.NewEncoder(w).Encode(page)
}

// Reset puts the rate-limit window back to zero requests.
func (o *Okta) Reset() {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.used = 0
}

// FailAfter lets n more requests through, then answers the next one 503.
func (o *Okta) FailAfter(n int) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.failAfter = n
}

// TooManyLeft is how many forced 429s remain.
func (o *Okta) TooManyLeft() int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.TooMany
}

// Refused counts the 429s earned by going over RateLimit (not the forced ones).
func (o *Okta) Refused() int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.refused
}

// Raw returns event i as the org serves it.
func (o *Okta) Raw(i int) string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return string(o.events[i].raw)
}
