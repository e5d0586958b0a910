// Package systemlog polls Okta's System Log API for the role events an event hook cannot
// deliver, and feeds them through the same classification and durable acceptance as hook
// deliveries, following Okta's `next` cursor, which it keeps in the store.
package systemlog

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/hookd/hookd"
	"github.com/hookd/hookd/internal/backoff"
	"github.com/hookd/hookd/internal/clip"
	"github.com/hookd/hookd/internal/outbound"
	"github.com/hookd/hookd/okta"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/hookd/hookd/hook"
)

// Store is what the poller needs of the store: acceptance, and small named state.
type Store interface {
	Accept(ctx context.Context, records []hookd.RoleChange) (hookd.AcceptResult, error)
	State(ctx context.Context, name string) (string, error)
	SetState(ctx context.Context, name, value string) error
}

// The names of the poller's state in the store.
const (
	stateNext       = "systemlog.next"
	stateNotBefore  = "systemlog.not_before"
	stateFailures   = "systemlog.failures"
	stateAuthFailed = "systemlog.auth_failed"
	// stateLastOK is when a cycle last completed; stateSilence, the start of an outage that
	// has been alerted, and its reason.
	stateLastOK  = "systemlog.last_ok"
	stateSilence = "systemlog.silence"
	stateLastWhy = "systemlog.last_problem"
)

// Results a Report can have.
const (
	ResultOK           = "ok"           // pages read up to an empty one
	ResultRateLimited  = "rate_limited" // stopped to respect Okta's rate limit
	ResultError        = "error"        // Okta or the network failed; backing off
	ResultUnauthorized = "unauthorized" // Okta refused the credentials; polling stops
	ResultWaiting      = "waiting"      // not polled: backing off or rate limited
	ResultStopped      = "stopped"      // not polled: the credentials were refused before
)

// Report says what one poll cycle did.
type Report struct {
	Result   string
	Pages    int
	Events   int // events read (watched or not)
	Accepted int
	Rejected int
	Err      error
	// RateLimitRemaining is Okta's X-Rate-Limit-Remaining from the last answer, -1 unknown.
	RateLimitRemaining int
	// Newest is the newest published time seen in this cycle (zero if none).
	Newest time.Time
	// MissedByHook counts, by type, the hook-eligible events this cycle stored first: an
	// event hook should have brought them (or had not yet: Okta promises no maximum delay).
	MissedByHook map[string]int
	// Until is when polling resumes, for ResultRateLimited and ResultError.
	Until time.Time
}

// Config configures a Poller.
type Config struct {
	// OrgURL is https://<org>.okta.com.
	OrgURL      string
	Credentials okta.Credentials
	// EventTypes are polled (default: every watched type, DefaultEventTypes: the Workflows
	// role types, which no hook delivers, and the safety net for the rest).
	EventTypes []string
	// Limit is the page size (default 1000, Okta's maximum).
	Limit int
	// LookBack is how far back the first poll reads (default 1 h).
	LookBack time.Duration
	Store    Store
	// Classifier turns events into RoleChanges (zero value: defaults).
	Classifier *hook.Classifier
	Client     *http.Client
	Now        func() time.Time
	// Report, when set, is told what each cycle did.
	Report func(Report)
	// Registerer, when set, receives the poller's metrics (hookd_systemlog_*).
	Registerer prometheus.Registerer
	// SilenceAfter is how long the poller may go without a completed cycle before every sink
	// is told, once (default 10 minutes); the end of it is told once too.
	SilenceAfter time.Duration
}

// Poller reads the System Log. Poll runs one cycle; run it periodically on one replica.
type Poller struct {
	cfg     Config
	org     *url.URL
	metrics *metrics
}

// DefaultEventTypes are the watched types no event hook delivers.
func DefaultEventTypes() []string { return hook.WatchedTypes() }

// accept stores a page's records in one request, so that the store reads them together in
// Okta's order (a membership beside its group's grant or revoke). Those a hook could have
// delivered and that were new to hookd (the hook did not bring them first) are counted as
// missed by hook; the hook is the fast path, the System Log the safety net.
func (p *Poller) accept(ctx context.Context, records []hookd.RoleChange, rep *Report) error {
	res, err := p.cfg.Store.Accept(ctx, records)
	if err != nil {
		return err
	}
	rep.Accepted += res.Accepted
	for t, n := range res.AcceptedByType {
		if n == 0 || !hook.HookEligible(t) {
			continue
		}
		if rep.MissedByHook == nil {
			rep.MissedByHook = map[string]int{}
		}
		rep.MissedByHook[t] += n
	}
	return nil
}

// New checks the configuration and returns a Poller.
func New(cfg Config) (*Poller, error) {
	org, err := url.Parse(strings.TrimRight(cfg.OrgURL, "/"))
	if err != nil || org.Host == "" || (org.Scheme != "https" && org.Scheme != "http") {
		return nil, errors.New("systemlog: the org URL must be https://<org>.okta.com")
	}
	if cfg.Credentials == nil || cfg.Store == nil {
		return nil, errors.New("systemlog: Credentials and Store are required")
	}
	if len(cfg.EventTypes) == 0 {
		cfg.EventTypes = DefaultEventTypes()
	}
	for _, t := range cfg.EventTypes {
		if strings.ContainsAny(t, `"\ `) || t == "" {
			return nil, fmt.Errorf("systemlog: event type %q is not a plain event type name", t)
		}
	}
	if cfg.Limit <= 0 || cfg.Limit > 1000 {
		cfg.Limit = 1000
	}
	if cfg.LookBack <= 0 {
		cfg.LookBack = time.Hour
	}
	if cfg.Classifier == nil {
		cfg.Classifier = &hook.Classifier{}
	}
	if cfg.Client == nil {
		cfg.Client = outbound.Client(30 * time.Second)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.SilenceAfter <= 0 {
		cfg.SilenceAfter = 10 * time.Minute
	}
	m, err := newMetrics(cfg.Registerer, cfg.Now)
	if err != nil {
		return nil, fmt.Errorf("systemlog: metrics: %w", err)
	}
	return &Poller{cfg: cfg, org: org, metrics: m}, nil
}

// Filter is the System Log filter expression for the event types.
func Filter(types []string) string {
	parts := make([]string, len(types))
	for i, t := range types {
		parts[i] = `eventType eq "` + t + `"`
	}
	return strings.Join(parts, " or ")
}

// maxPages bounds one cycle, so that a large backlog is read over several cycles and the
// cursor is saved as it goes.
const maxPages = 50

// Poll runs one cycle: from the kept cursor (or LookBack ago), read pages and accept their
// role changes until a page comes back empty, saving the cursor after each page's commit.
// Problems with Okta end the cycle and are reported; Poll returns an error only when the
// store fails.
func (p *Poller) Poll(ctx context.Context) error {
	rep, err := p.poll(ctx)
	if err == nil {
		err = p.watchSilence(ctx, rep)
	}
	p.metrics.observe(rep)
	if p.cfg.Report != nil {
		p.cfg.Report(rep)
	}
	return err
}

func (p *Poller) poll(ctx context.Context) (Report, error) {
	rep := Report{RateLimitRemaining: -1}
	st := p.cfg.Store
	now := p.cfg.Now()

	if failed, err := st.State(ctx, stateAuthFailed); err != nil {
		return rep, err
	} else if strings.HasPrefix(failed, p.cfg.Credentials.Fingerprint()+" ") {
		rep.Result = ResultStopped
		return rep, nil
	}
	if nb, err := st.State(ctx, stateNotBefore); err != nil {
		return rep, err
	} else if t, perr := time.Parse(time.RFC3339Nano, nb); perr == nil && now.Before(t) {
		rep.Result, rep.Until = ResultWaiting, t
		return rep, nil
	}

	next, err := p.cursor(ctx, now)
	if err != nil {
		return rep, err
	}
	for rep.Pages < maxPages {
		page, err := p.fetch(ctx, next)
		if err != nil {
			return p.failed(ctx, rep, err)
		}
		if page.remaining >= 0 {
			rep.RateLimitRemaining = page.remaining
		}
		switch {
		case page.status == http.StatusTooManyRequests:
			return p.wait(ctx, rep, ResultRateLimited, page.resetOr(now, time.Minute), nil)
		case page.status == http.StatusUnauthorized || page.status == http.StatusForbidden:
			rep.Result = ResultUnauthorized
			switch {
			case page.refused != nil:
				// Okta's token endpoint said why (invalid_client, invalid_scope …): say that,
				// not a guess that sends the operator to the wrong setting.
				rep.Err = fmt.Errorf("%s: %w (polling stops until the credentials change)", p.org.Host, page.refused)
			case page.status == http.StatusForbidden:
				rep.Err = fmt.Errorf("HTTP 403 from %s: the credentials may not read the System Log, which needs okta.logs.read (the service app's scope and its admin role's permission, or an API token of an admin who holds it); polling stops until they change", p.org.Host)
			default:
				rep.Err = fmt.Errorf("HTTP %d from %s: check the credentials (HOOKD_OKTA_API_TOKEN, or the service app and its okta.logs.read grant); polling stops until they change", page.status, p.org.Host)
			}
			return rep, st.SetState(ctx, stateAuthFailed, p.cfg.Credentials.Fingerprint()+" "+rep.Err.Error())
		case page.status != http.StatusOK:
			return p.failed(ctx, rep, fmt.Errorf("HTTP %d from Okta", page.status))
		}
		rep.Pages++

		batch, err := hook.DecodeEvents(strings.NewReader(page.body))
		if err != nil {
			return p.failed(ctx, rep, fmt.Errorf("answer from the System Log API: %w", err))
		}
		batch.Org = p.org.Scheme + "://" + p.org.Host
		records, _ := p.cfg.Classifier.RoleChanges(batch, hookd.SourceSystemLog)
		if err := p.accept(ctx, records, &rep); err != nil {
			return rep, err // the cursor stays: the page is read again next time
		}
		n := len(batch.Events) + len(batch.Rejected)
		rep.Events += n
		rep.Rejected += len(batch.Rejected)
		for _, ev := range batch.Events {
			if ev.Published.After(rep.Newest) {
				rep.Newest = ev.Published
			}
		}
		link, err := p.nextLink(page.header)
		if err != nil {
			return p.failed(ctx, rep, err)
		}
		if err := st.SetState(ctx, stateNext, link); err != nil {
			return rep, err
		}
		next = link
		if n == 0 {
			break // caught up; new events show up behind the same cursor later
		}
		if page.remaining >= 0 && page.remaining <= max(1, page.limit/10) {
			// Leave Okta's rate limit room for the org's other clients.
			return p.wait(ctx, rep, ResultRateLimited, page.resetOr(now, time.Minute), nil)
		}
	}
	rep.Result = ResultOK
	return rep, st.SetState(ctx, stateFailures, "")
}

// cursor is the kept next link, or a first request reading LookBack into the past. A kept
// link for other event types (the configuration changed) is not used.
func (p *Poller) cursor(ctx context.Context, now time.Time) (string, error) {
	kept, err := p.cfg.Store.State(ctx, stateNext)
	if err != nil {
		return "", err
	}
	filter := Filter(p.cfg.EventTypes)
	if u, err := url.Parse(kept); kept != "" && err == nil && u.Query().Get("filter") == filter && p.sameOrg(u) {
		return kept, nil
	}
	q := url.Values{
		"since":     {now.Add(-p.cfg.LookBack).UTC().Format(time.RFC3339)},
		"filter":    {filter},
		"limit":     {strconv.Itoa(p.cfg.Limit)},
		"sortOrder": {"ASCENDING"},
	}
	return p.org.Scheme + "://" + p.org.Host + "/api/v1/logs?" + q.Encode(), nil
}

func (p *Poller) sameOrg(u *url.URL) bool {
	return u.Scheme == p.org.Scheme && u.Host == p.org.Host && u.Path == "/api/v1/logs"
}

// wait keeps a time before which no replica polls.
func (p *Poller) wait(ctx context.Context, rep Report, result string, until time.Time, err error) (Report, error) {
	rep.Result, rep.Until, rep.Err = result, until, err
	return rep, p.cfg.Store.SetState(ctx, stateNotBefore, until.UTC().Format(time.RFC3339Nano))
}

// failed backs off after a network error or a failing answer: 5 s, doubling with each
// failure in a row, up to 5 minutes.
func (p *Poller) failed(ctx context.Context, rep Report, cause error) (Report, error) {
	kept, err := p.cfg.Store.State(ctx, stateFailures)
	if err != nil {
		return rep, err
	}
	n, _ := strconv.Atoi(kept)
	n++
	if err := p.cfg.Store.SetState(ctx, stateFailures, strconv.Itoa(n)); err != nil {
		return rep, err
	}
	d := backoff.Doubling{Base: 5 * time.Second, Cap: 5 * time.Minute}.Nominal(n)
	return p.wait(ctx, rep, ResultError, p.cfg.Now().Add(d), cause)
}

// page is one answer of the System Log API.
type page struct {
	status    int
	header    http.Header
	body      string
	remaining int
	limit     int
	reset     time.Time
	// refused is Okta's token endpoint refusing the service app: no API answer, only Okta's
	// reason, reported as status 401.
	refused error
}

func (pg page) resetOr(now time.Time, d time.Duration) time.Time {
	if pg.reset.After(now) {
		return pg.reset.Add(time.Second)
	}
	return now.Add(d)
}

// maxPage bounds an answer's size: 1,000 events of a few KB each.
const maxPage = 32 << 20

func (p *Poller) fetch(ctx context.Context, target string) (page, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, target, nil)
	if err != nil {
		return page{}, err
	}
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", "hookd")
	resp, err := okta.Send(ctx, p.cfg.Client, p.cfg.Credentials, req)
	if err != nil {
		if errors.Is(err, okta.ErrTokenRefused) {
			return page{status: http.StatusUnauthorized, refused: err}, nil
		}
		return page{}, errors.New(outbound.Describe(err)) // Okta refusing a DPoP proof, too: try again later
	}
	defer resp.Body.Close()
	if err := okta.DPoPRefusal(resp); err != nil {
		return page{}, err // hookd's proof, not the credentials: not a reason to stop
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxPage+1))
	if err != nil {
		return page{}, errors.New(outbound.Describe(err))
	}
	if len(body) > maxPage {
		return page{}, errors.New("answer from the System Log API over 32 MiB")
	}
	pg := page{status: resp.StatusCode, header: resp.Header, body: string(body), remaining: -1}
	if v, err := strconv.Atoi(resp.Header.Get("X-Rate-Limit-Remaining")); err == nil {
		pg.remaining = v
	}
	if v, err := strconv.Atoi(resp.Header.Get("X-Rate-Limit-Limit")); err == nil {
		pg.limit = v
	}
	if v, err := strconv.ParseInt(resp.Header.Get("X-Rate-Limit-Reset"), 10, 64); err == nil {
		pg.reset = time.Unix(v, 0)
	}
	return pg, nil
}

// nextLink finds rel="next" among the Link headers and checks that it stays on the org's
// System Log endpoint, so an answer cannot send the poller, and its credentials, elsewhere.
func (p *Poller) nextLink(h http.Header) (string, error) {
	link := okta.NextLink(h)
	if link == "" {
		return "", errNoNext
	}
	u, err := url.Parse(link)
	if err != nil || !p.sameOrg(u) {
		return "", errors.New("answer from the System Log API: the next link leaves the org's /api/v1/logs")
	}
	return link, nil
}

// errNoNext is an answer without a next link: a polling request always has one; a bounded
// one (with until), as the import reads, ends without.
var errNoNext = errors.New(`answer from the System Log API: no Link rel="next"`)

// Ready fails while Okta refuses the configured credentials.
func (p *Poller) Ready(ctx context.Context) error {
	failed, err := p.cfg.Store.State(ctx, stateAuthFailed)
	if err != nil {
		return err
	}
	if fp := p.cfg.Credentials.Fingerprint() + " "; strings.HasPrefix(failed, fp) {
		return errors.New(strings.TrimPrefix(failed, fp))
	}
	return nil
}

// watchSilence tells every sink, once, when the poller has not completed a cycle for
// SilenceAfter (a revoked credential, Okta unreachable, rate-limited too long), and once
// more when it reads again. The records are ordinary ones of category hookd_health with a
// uuid made from the outage's start, so that replicas and repeated cycles alert once.
func (p *Poller) watchSilence(ctx context.Context, rep Report) error {
	st := p.cfg.Store
	now := p.cfg.Now().UTC()
	silence, err := st.State(ctx, stateSilence)
	if err != nil {
		return err
	}
	if rep.Result == ResultOK {
		if err := st.SetState(ctx, stateLastOK, now.Format(time.RFC3339Nano)); err != nil {
			return err
		}
		if silence == "" {
			return nil
		}
		since, _, _ := strings.Cut(silence, " ")
		rc := p.healthRecord("hookd-systemlog-recovered-"+since, hookd.HealthSystemLogRecovered, hookd.Recovered, now,
			"hookd reads Okta's System Log again (it could not since "+since+"); events of the gap are read now")
		if _, err := st.Accept(ctx, []hookd.RoleChange{rc}); err != nil {
			return err
		}
		return st.SetState(ctx, stateSilence, "")
	}
	if rep.Err != nil {
		if err := st.SetState(ctx, stateLastWhy, clip.Bytes(rep.Err.Error(), 300)); err != nil {
			return err
		}
	}
	if silence != "" {
		return nil // told already
	}
	lastOK, err := st.State(ctx, stateLastOK)
	if err != nil {
		return err
	}
	since, perr := time.Parse(time.RFC3339Nano, lastOK)
	if perr != nil {
		// Never read yet: the outage started with this hookd; keep its first failure's time.
		if err := st.SetState(ctx, stateLastOK, now.Format(time.RFC3339Nano)); err != nil {
			return err
		}
		return nil
	}
	if now.Sub(since) < p.cfg.SilenceAfter {
		return nil
	}
	why, err := st.State(ctx, stateLastWhy)
	if err != nil {
		return err
	}
	if why == "" {
		why = "polling is " + rep.Result
	}
	start := since.Format(time.RFC3339)
	rc := p.healthRecord("hookd-systemlog-silence-"+start, hookd.HealthSystemLogBlinded, hookd.Blinded, now,
		"hookd cannot read Okta's System Log since "+start+": "+why)
	if _, err := st.Accept(ctx, []hookd.RoleChange{rc}); err != nil {
		return err
	}
	return st.SetState(ctx, stateSilence, start+" "+why)
}

// healthRecord is a record of the poller's health, for every sink.
func (p *Poller) healthRecord(id, eventType string, action hookd.Action, at time.Time, message string) hookd.RoleChange {
	return hookd.HealthRecord(id, eventType, action, at, "hookd's System Log poller", p.org.Scheme+"://"+p.org.Host, message, hookd.SourceSystemLog)
}
