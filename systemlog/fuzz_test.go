package systemlog

import (
	"github.com/hookd/hookd/okta"
	"net/http"
	"net/url"
	"testing"

	"github.com/hookd/hookd/store"
)

// FuzzNextLink feeds arbitrary Link headers from Okta's answers: the poller must never
// panic, and must never follow a link off the org's /api/v1/logs.
func FuzzNextLink(f *testing.F) {
	f.Add(`<https://acme.okta.com/api/v1/logs?after=1>; rel="next"`)
	f.Add(`<https://acme.okta.com/api/v1/logs?a=1,2>; rel="self", <https://acme.okta.com/api/v1/logs?after=2>; rel="next"`)
	f.Add(`<https://evil.example/api/v1/logs>; rel="next"`)
	f.Add(`<>; rel=next, <<>>; rel="prev next"`)
	p, err := New(Config{OrgURL: "https://acme.okta.com", Credentials: okta.APIToken("t"), Store: &store.Store{}})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, header string) {
		link, err := p.nextLink(http.Header{"Link": {header}})
		if err != nil {
			return
		}
		u, perr := url.Parse(link)
		if perr != nil || u.Scheme != "https" || u.Host != "acme.okta.com" || u.Path != "/api/v1/logs" {
			t.Fatalf("followed %q from %q", link, header)
		}
	})
}
