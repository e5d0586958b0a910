package systemlog

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

	"github.com/hookd/hookd"
	"github.com/hookd/hookd/hook"
	"github.com/hookd/hookd/internal/backoff"
)

// ImportStore is what an import needs of the store: the history folded into the ledger, and
// small named state for the cursor.
type ImportStore interface {
	Import(ctx context.Context, records []hookd.RoleChange) (int, error)
	State(ctx context.Context, name string) (string, error)
	SetState(ctx context.Context, name, value string) error
}

// ImportProgress says how far an import has come.
type ImportProgress struct {
	Pages   int `json:"pages"`
	Events  int `json:"events"`
	Changes int `json:"changes"`
	// Since and Until bound the history read; Newest is the newest event read so far.
	Since  time.Time `json:"since"`
	Until  time.Time `json:"until"`
	Newest time.Time `json:"newest"`
	// Next is the cursor: the page to read next.
	Next string `json:"next"`
	// Resumed says that the import went on from where an earlier run stopped.
	Resumed bool `json:"-"`
	// Waiting, when set, is when Okta's rate limit lets the import go on.
	Waiting time.Time `json:"-"`
	Done    bool      `json:"-"`
}

// stateImport keeps an unfinished import's progress and cursor.
const stateImport = "systemlog.import"

// importRetries is how often an import tries a page that fails (5xx, network) before it
// stops; the cursor is kept, so running it again goes on from that page.
const importRetries = 6

// ErrImportCredentials is returned, wrapped with the reason, when Okta refuses the
// credentials: in Okta's words when its token endpoint refused the service app.
var ErrImportCredentials = errors.New("the credentials were refused")

// Import reads the System Log's history of every watched event type, from since to the time
// the import began, and folds it into the ledger through st, page by page. After each page's
// commit it keeps its cursor, so an import that is stopped (or killed) goes on from the page
// after the last one kept, unless restart is set; a completed import clears it. Okta's rate
// limit is waited out. progress is told after each page.
func (p *Poller) Import(ctx context.Context, st ImportStore, since time.Time, restart bool, progress func(ImportProgress)) (ImportProgress, error) {
	pr, err := p.importCursor(ctx, st, since, restart)
	if err != nil {
		return pr, err
	}
	if progress == nil {
		progress = func(ImportProgress) {}
	}
	failures := 0
	for {
		pr.Waiting = time.Time{}
		page, err := p.fetch(ctx, pr.Next)
		switch {
		case err != nil || page.status >= 500 || page.status == http.StatusRequestTimeout:
			if err == nil {
				err = fmt.Errorf("HTTP %d from Okta", page.status)
			}
			if failures++; failures >= importRetries {
				return pr, fmt.Errorf("page %d: %w (run the import again to go on from it)", pr.Pages+1, err)
			}
			if err := backoff.Sleep(ctx, backoff.Doubling{Base: time.Second, Cap: 30 * time.Second}.Nominal(failures)); err != nil {
				return pr, err
			}
			continue
		case page.status == http.StatusTooManyRequests:
			pr.Waiting = page.resetOr(p.cfg.Now(), time.Minute)
			progress(pr)
			if err := backoff.Sleep(ctx, pr.Waiting.Sub(p.cfg.Now())); err != nil {
				return pr, err
			}
			continue
		case page.status == http.StatusUnauthorized || page.status == http.StatusForbidden:
			switch {
			case page.refused != nil:
				return pr, fmt.Errorf("%w: %w", ErrImportCredentials, page.refused)
			case page.status == http.StatusForbidden:
				return pr, fmt.Errorf("%w: HTTP 403 from %s: reading the System Log needs okta.logs.read (the service app's scope and its admin role's permission, or an API token of an admin who holds it)", ErrImportCredentials, p.org.Host)
			}
			return pr, fmt.Errorf("%w: HTTP %d from %s (HOOKD_OKTA_API_TOKEN, or the service app and its okta.logs.read grant)", ErrImportCredentials, page.status, p.org.Host)
		case page.status != http.StatusOK:
			return pr, fmt.Errorf("page %d: HTTP %d from Okta", pr.Pages+1, page.status)
		}
		failures = 0
		batch, err := hook.DecodeEvents(strings.NewReader(page.body))
		if err != nil {
			return pr, fmt.Errorf("page %d: answer from the System Log API: %w", pr.Pages+1, err)
		}
		batch.Org = p.org.Scheme + "://" + p.org.Host
		records, _ := p.cfg.Classifier.RoleChanges(batch, hookd.SourceSystemLog)
		n, err := st.Import(ctx, records)
		if err != nil {
			return pr, err
		}
		link, err := p.nextLink(page.header)
		if err != nil && !errors.Is(err, errNoNext) {
			return pr, err
		}
		read := len(batch.Events) + len(batch.Rejected)
		for _, ev := range batch.Events {
			if ev.Published.After(pr.Newest) {
				pr.Newest = ev.Published
			}
		}
		if read > 0 && link == "" {
			// The last page of a bounded request: count it, then done.
			pr.Pages++
			pr.Events += read
			pr.Changes += n
			read = 0
		}
		if read == 0 {
			pr.Done = true
			progress(pr)
			return pr, st.SetState(ctx, stateImport, "")
		}
		pr.Pages++
		pr.Events += read
		pr.Changes += n
		pr.Next = link
		kept, _ := json.Marshal(pr)
		if err := st.SetState(ctx, stateImport, string(kept)); err != nil {
			return pr, err
		}
		progress(pr)
		if page.remaining >= 0 && page.remaining <= max(1, page.limit/10) {
			// Leave Okta's rate limit room for the org's other clients, hookd's poller first.
			pr.Waiting = page.resetOr(p.cfg.Now(), time.Minute)
			progress(pr)
			if err := backoff.Sleep(ctx, pr.Waiting.Sub(p.cfg.Now())); err != nil {
				return pr, err
			}
		}
	}
}

// importCursor is the kept import to go on with, or a new one from since to now.
func (p *Poller) importCursor(ctx context.Context, st ImportStore, since time.Time, restart bool) (ImportProgress, error) {
	filter := Filter(hook.WatchedTypes())
	if kept, err := st.State(ctx, stateImport); err != nil {
		return ImportProgress{}, err
	} else if kept != "" && !restart {
		var pr ImportProgress
		if json.Unmarshal([]byte(kept), &pr) == nil {
			if u, err := url.Parse(pr.Next); err == nil && p.sameOrg(u) && u.Query().Get("filter") == filter {
				pr.Resumed = true
				return pr, nil
			}
		}
	}
	until := p.cfg.Now().UTC().Truncate(time.Second)
	q := url.Values{
		"since":     {since.UTC().Format(time.RFC3339)},
		"until":     {until.Format(time.RFC3339)},
		"filter":    {filter},
		"limit":     {strconv.Itoa(p.cfg.Limit)},
		"sortOrder": {"ASCENDING"},
	}
	return ImportProgress{Since: since.UTC(), Until: until, Next: p.org.Scheme + "://" + p.org.Host + "/api/v1/logs?" + q.Encode()}, nil
}
