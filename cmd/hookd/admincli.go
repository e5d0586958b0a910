package main

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/hookd/hookd/config"
	"github.com/hookd/hookd/internal/adminapi"
	"github.com/hookd/hookd/internal/clip"
	"github.com/hookd/hookd/internal/termtext"
)

// The command-line face of the admin API: changes, deadletters and sinks talk to a running
// hookd's admin listener (never to the database), with HOOKD_ADMIN_TOKEN when it needs one.
// Whatever they print from an answer goes through termtext: the strings in it are Okta's and
// receivers', and an admin who can name a user can otherwise write to the operator's terminal.

// adminClient calls the admin API.
type adminClient struct {
	base  string
	token string
	http  *http.Client
}

// adminFlags adds --admin-url, --config and --json to fs; connect reads them once parsed.
type adminFlags struct {
	url, config *string
	json        *bool
}

func newAdminFlags(fs *flag.FlagSet) adminFlags {
	return adminFlags{
		url:    fs.String("admin-url", "", "the admin listener (default http:// and HOOKD_ADMIN_ADDR, 127.0.0.1:9090)"),
		config: fs.String("config", "", "YAML configuration file, for admin_addr and admin_token"),
		json:   fs.Bool("json", false, "print stable JSON instead of a table"),
	}
}

func (m *Main) connect(f adminFlags) (*adminClient, error) {
	cfg, err := config.Load(*f.config, m.Getenv)
	if err != nil {
		return nil, err
	}
	base := *f.url
	if base == "" {
		base = "http://" + loopbackOf(cfg.AdminAddr)
	}
	u, err := url.Parse(base)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("--admin-url: %q is not an http(s) URL", base)
	}
	return &adminClient{base: strings.TrimRight(base, "/"), token: cfg.AdminToken, http: &http.Client{Timeout: 60 * time.Second}}, nil
}

// call sends one request and decodes the JSON answer into out; an error answer becomes an
// error that says what the server said.
func (a *adminClient) call(ctx context.Context, method, path string, query url.Values, out any) error {
	target := a.base + path
	if len(query) > 0 {
		target += "?" + query.Encode()
	}
	req, err := http.NewRequestWithContext(ctx, method, target, nil)
	if err != nil {
		return err
	}
	if a.token != "" {
		req.Header.Set("Authorization", "Bearer "+a.token)
	}
	req.Header.Set("Accept", "application/json")
	resp, err := a.http.Do(req)
	if err != nil {
		if isConnError(err) {
			return fmt.Errorf("no hookd admin listener answers at %s: is hookd running? (--admin-url, HOOKD_ADMIN_ADDR)", a.base)
		}
		return err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	if resp.StatusCode >= 300 && resp.StatusCode != http.StatusBadGateway {
		var e adminapi.Error
		if json.Unmarshal(body, &e) == nil && e.Error != "" {
			if resp.StatusCode == http.StatusUnauthorized {
				return fmt.Errorf("%s (%d): set HOOKD_ADMIN_TOKEN to the admin listener's token", termtext.Escape(e.Error), resp.StatusCode)
			}
			return fmt.Errorf("%s (%d): %s", termtext.Escape(e.Error), resp.StatusCode, termtext.Escape(e.Detail))
		}
		return fmt.Errorf("%s answered %d", path, resp.StatusCode)
	}
	if err := json.Unmarshal(body, out); err != nil {
		return fmt.Errorf("%s: answer is not the admin API's JSON: %w", path, err)
	}
	return nil
}

// printJSON prints v for scripts; the few controls encoding/json leaves raw are written as
// \u escapes, so the output is as safe on a terminal as a table and decodes to the same value.
func (m *Main) printJSON(v any) error {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		return err
	}
	_, err := m.Stdout.Write(termtext.JSON(buf.Bytes()))
	return err
}

// table prints rows under a header, aligned by tabwriter. Every cell goes through
// termtext.Escape: it is the one way these commands print a table, so no cell reaches the
// terminal raw, and no tab or line break inside a cell can move a column or start a row.
type table struct {
	w   *tabwriter.Writer
	err error // the first write that failed, for flush to return
}

func newTable(w io.Writer, columns ...string) *table {
	t := &table{w: tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)}
	t.row(columns...)
	return t
}

func (t *table) row(cells ...string) {
	var line strings.Builder
	for i, c := range cells {
		if i > 0 {
			line.WriteByte('\t')
		}
		line.WriteString(termtext.Escape(c))
	}
	line.WriteByte('\n')
	if _, err := io.WriteString(t.w, line.String()); err != nil && t.err == nil {
		t.err = err
	}
}

func (t *table) flush() error {
	if err := t.w.Flush(); err != nil && t.err == nil {
		t.err = err
	}
	return t.err
}

// maxName bounds an Okta name in a table, so that one long name does not push the other
// columns off the screen; --json gives the whole.
const maxName = 60

// short is an Okta-supplied name as a table shows it. It is cut before the table escapes it,
// so an escape is never cut in half.
func short(s string) string { return clip.Runes(s, maxName) }

func shortTime(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.UTC().Format("2006-01-02 15:04:05Z")
}

// changesCommand lists stored role changes, newest first.
func (m *Main) changesCommand(ctx context.Context, args []string) error {
	fs := m.newFlags("changes")
	af := newAdminFlags(fs)
	q := url.Values{}
	names := []string{"role", "user", "group", "actor", "type", "source", "severity", "finding", "since", "until", "before"}
	for _, name := range names {
		fs.Func(name, adminapi.ChangeFilterHelp[name], func(v string) error {
			q.Set(name, v)
			return nil
		})
	}
	limit := fs.Int("limit", 50, adminapi.ChangeFilterHelp["limit"])
	if err := m.parse(fs, args); err != nil {
		return err
	}
	// The same check the server makes, before asking it.
	if _, err := adminapi.ParseChangeFilter(q, time.Now()); err != nil {
		fmt.Fprintf(m.Stderr, "hookd changes: %s\n", strings.TrimPrefix(err.Error(), "bad request: "))
		return errUsage
	}
	client, err := m.connect(af)
	if err != nil {
		return err
	}
	q.Set("limit", strconv.Itoa(*limit))
	var page adminapi.ChangePage
	if err := client.call(ctx, http.MethodGet, "/api/v1/changes", q, &page); err != nil {
		return err
	}
	if *af.json {
		return m.printJSON(page)
	}
	t := newTable(m.Stdout, "PUBLISHED", "SEVERITY", "WHAT", "ROLES", "SUBJECT", "ACTOR", "DELIVERY", "EVENT")
	for _, c := range page.Changes {
		r := c.Record
		var states []string
		for _, d := range c.Deliveries {
			states = append(states, d.Sink+"="+d.State)
		}
		subject := cmp.Or(r.Subject.DisplayName, r.Subject.Login, r.Subject.ID, "-")
		what := c.Title
		if d := r.Decision; d != nil {
			what += " (" + strings.ReplaceAll(d.Decision, "_", " ") + " by " + short(cmp.Or(d.ByName, d.ByID)) + ")"
		}
		t.row(shortTime(r.Published), c.Severity, what, short(strings.Join(r.RoleNames(), ", ")),
			string(r.Subject.Kind)+": "+short(subject), short(cmp.Or(r.Actor.DisplayName, r.Actor.Login, r.Actor.ID, "-")),
			strings.Join(states, " "), r.EventID)
	}
	if err := t.flush(); err != nil {
		return err
	}
	if page.Next != "" {
		// The next page is the same filters, older.
		more := "more: hookd changes"
		for _, name := range names {
			if v := q.Get(name); v != "" && name != "before" {
				more += " --" + name + " " + shellQuote(v)
			}
		}
		fmt.Fprintf(m.Stderr, "%s --before %s\n", termtext.Escape(more), termtext.Escape(page.Next))
	}
	return nil
}

// deadlettersCommand lists, retries or discards dead letters.
func (m *Main) deadlettersCommand(ctx context.Context, args []string) error {
	action := "list"
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		action, args = args[0], args[1:]
	}
	fs := m.newFlags("deadletters " + action)
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), "usage: hookd deadletters [list [--sink NAME] [--handled]] | retry ID | retry --sink NAME --all | discard ID | discard --sink NAME --all\n")
		fs.PrintDefaults()
	}
	af := newAdminFlags(fs)
	sink := fs.String("sink", "", "only this sink's dead letters")
	all := fs.Bool("all", false, "with retry or discard: every open dead letter of --sink")
	handled := fs.Bool("handled", false, "with list: include those already retried or discarded")
	limit := fs.Int("limit", 200, "with list: how many, newest first")
	// Flags may follow the job id: hookd deadletters retry 42 --json.
	var id string
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		id, args = args[0], args[1:]
	}
	if err := m.parse(fs, args); err != nil {
		return err
	}
	if id == "" && fs.NArg() > 0 {
		id = fs.Arg(0)
	}
	if action != "list" && action != "retry" && action != "discard" {
		fmt.Fprintf(m.Stderr, "hookd deadletters: unknown action %q: list, retry or discard\n", action)
		fs.Usage()
		return errUsage
	}
	client, err := m.connect(af)
	if err != nil {
		return err
	}
	switch action {
	case "list":
		q := url.Values{}
		if *sink != "" {
			q.Set("sink", *sink)
		}
		if *handled {
			q.Set("handled", "1")
		}
		q.Set("limit", strconv.Itoa(*limit))
		var letters []adminapi.DeadLetter
		if err := client.call(ctx, http.MethodGet, "/api/v1/deadletters", q, &letters); err != nil {
			return err
		}
		if *af.json {
			return m.printJSON(letters)
		}
		return m.printLetters(letters)
	case "retry", "discard":
	}
	var path string
	q := url.Values{}
	switch {
	case id != "" && !*all:
		if _, err := strconv.ParseInt(id, 10, 64); err != nil {
			return fmt.Errorf("%q is not a dead letter's job id (hookd deadletters list shows them)", id)
		}
		path = "/api/v1/deadletters/" + id + "/" + action
	case id == "" && *all && *sink != "":
		path = "/api/v1/deadletters/" + action
		q.Set("sink", *sink)
	default:
		fmt.Fprintf(m.Stderr, "hookd deadletters %s: name one job id, or --sink NAME --all\n", action)
		return errUsage
	}
	var h adminapi.Handled
	if err := client.call(ctx, http.MethodPost, path, q, &h); err != nil {
		return err
	}
	if *af.json {
		return m.printJSON(h)
	}
	verb := map[string]string{"retry": "re-queued", "discard": "discarded"}[action]
	for _, l := range h.Letters {
		line := fmt.Sprintf("%s job %d (sink %s, event %s)", verb, l.JobID, termtext.Escape(l.Sink), termtext.Escape(l.EventID))
		if l.RetryJobID != 0 {
			line += fmt.Sprintf(" as job %d", l.RetryJobID)
		}
		fmt.Fprintln(m.Stdout, line)
	}
	fmt.Fprintf(m.Stdout, "%d dead letter(s) %s\n", len(h.Letters), verb)
	return nil
}

func (m *Main) printLetters(letters []adminapi.DeadLetter) error {
	if len(letters) == 0 {
		fmt.Fprintln(m.Stdout, "no dead letters")
		return nil
	}
	t := newTable(m.Stdout, "JOB", "FAILED", "SINK", "EVENT", "ATTEMPTS", "WHY", "HANDLED")
	for _, l := range letters {
		handled := "-"
		if l.Handling != "" {
			handled = l.Handling + " " + shortTime(l.HandledAt) + " by " + l.HandledBy
		}
		t.row(strconv.FormatInt(l.JobID, 10), shortTime(l.FailedAt), l.Sink, l.EventID, strconv.Itoa(l.Attempts),
			l.State+": "+l.Reason, handled)
	}
	return t.flush()
}

// sinksCommand lists sinks, or sends test alerts.
func (m *Main) sinksCommand(ctx context.Context, args []string) error {
	action := "list"
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		action, args = args[0], args[1:]
	}
	var name string
	if action == "test" && len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		name, args = args[0], args[1:]
	}
	fs := m.newFlags("sinks " + action)
	af := newAdminFlags(fs)
	if err := m.parse(fs, args); err != nil {
		return err
	}
	if name == "" && fs.NArg() > 0 {
		name = fs.Arg(0)
	}
	client, err := m.connect(af)
	if err != nil {
		return err
	}
	var sinks []adminapi.Sink
	if err := client.call(ctx, http.MethodGet, "/api/v1/sinks", nil, &sinks); err != nil {
		return err
	}
	switch action {
	case "list":
		if *af.json {
			return m.printJSON(sinks)
		}
		t := newTable(m.Stdout, "SINK", "TYPE", "LAST SUCCESS", "LAST FAILURE", "PENDING", "RETRYING", "DEAD")
		for _, s := range sinks {
			t.row(s.Name, s.Type, shortTime(s.LastSuccess), shortTime(s.LastFailure),
				strconv.FormatInt(s.Jobs.Pending, 10), strconv.FormatInt(s.Jobs.Retrying, 10), strconv.FormatInt(s.Jobs.Dead, 10))
		}
		return t.flush()
	case "test":
	default:
		fmt.Fprint(m.Stderr, "usage: hookd sinks [list] | test [NAME]\n")
		return errUsage
	}
	var names []string
	for _, s := range sinks {
		if name == "" || s.Name == name {
			names = append(names, s.Name)
		}
	}
	if len(names) == 0 {
		return fmt.Errorf("no sink is named %q", name)
	}
	var results []adminapi.TestResult
	failed := 0
	for _, n := range names {
		var res adminapi.TestResult
		if err := client.call(ctx, http.MethodPost, "/api/v1/sinks/"+url.PathEscape(n)+"/test", nil, &res); err != nil {
			return err
		}
		results = append(results, res)
		if !res.OK {
			failed++
		}
		if !*af.json {
			if res.OK {
				fmt.Fprintf(m.Stdout, "%s: test alert delivered in %d ms\n", termtext.Escape(n), res.Millis)
			} else {
				fmt.Fprintf(m.Stdout, "%s: test alert FAILED after %d ms: %s\n", termtext.Escape(n), res.Millis, termtext.Escape(res.Error))
			}
		}
	}
	if *af.json {
		if err := m.printJSON(results); err != nil {
			return err
		}
	}
	if failed > 0 {
		return errors.New(strconv.Itoa(failed) + " of " + strconv.Itoa(len(names)) + " test alerts failed")
	}
	return nil
}

// holdersCommand lists who holds which watched role now.
func (m *Main) holdersCommand(ctx context.Context, args []string) error {
	if len(args) > 0 && args[0] == "import" {
		return m.holdersImport(ctx, args[1:])
	}
	if len(args) > 0 && args[0] == "snapshot" {
		return m.holdersSnapshot(ctx, args[1:])
	}
	if len(args) > 0 && args[0] == "declare" {
		return m.holdersDeclare(ctx, args[1:])
	}
	fs := m.newFlags("holders")
	af := newAdminFlags(fs)
	role := fs.String("role", "", `only roles whose name matches this pattern, case-insensitive ("Workflows Admin*")`)
	group := fs.String("group", "", `only the group and those holding roles through it: part of its name, case-insensitive, or its id`)
	if err := m.parse(fs, args); err != nil {
		return err
	}
	client, err := m.connect(af)
	if err != nil {
		return err
	}
	q := url.Values{}
	if *role != "" {
		q.Set("role", *role)
	}
	if *group != "" {
		q.Set("group", *group)
	}
	var holders []adminapi.Holder
	if err := client.call(ctx, http.MethodGet, "/api/v1/holders", q, &holders); err != nil {
		return err
	}
	if *af.json {
		return m.printJSON(holders)
	}
	if len(holders) == 0 {
		fmt.Fprintln(m.Stdout, "no current holders")
		return nil
	}
	t := newTable(m.Stdout, "ROLE", "HOLDER", "THROUGH", "SINCE", "GRANTED BY", "KNOWN BY", "EVENT")
	for _, h := range holders {
		through := "directly"
		if h.Via != "" {
			through = "via " + short(h.Via)
		}
		t.row(short(h.Role), h.SubjectKind+": "+short(cmp.Or(h.SubjectName, h.SubjectID, "-"))+" ("+short(h.SubjectID)+")",
			through, shortTime(h.Since), short(cmp.Or(h.GrantedBy, "-")), knownBy(h), h.EventID)
	}
	return t.flush()
}

// knownBy is how hookd knows a holding, and when Okta last showed it.
func knownBy(h adminapi.Holder) string {
	if h.SeenInOkta != nil {
		return h.KnownBy + ", seen in Okta " + h.SeenInOkta.UTC().Format("2006-01-02")
	}
	return h.KnownBy
}

// shellQuote quotes s for a POSIX shell when it holds anything but plain characters.
func shellQuote(s string) string {
	if s != "" && strings.Trim(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.:/@+,") == "" {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
