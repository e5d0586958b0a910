package handlers

import (
	"context"
	"errors"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/hookd/hookd"
	"github.com/hookd/hookd/internal/adminapi"
	"github.com/labstack/echo/v4"
	"go.uber.org/zap"
)

// ConsoleStore is what the operator console reads and repairs; store.Store satisfies it.
type ConsoleStore interface {
	Changes(ctx context.Context, f adminapi.ChangeFilter) (adminapi.ChangePage, error)
	Change(ctx context.Context, eventID string) (adminapi.Change, error)
	DeadLetters(ctx context.Context, f adminapi.DeadLetterFilter) ([]adminapi.DeadLetter, error)
	RetryDeadLetter(ctx context.Context, jobID int64, by string) (adminapi.DeadLetter, error)
	DiscardDeadLetter(ctx context.Context, jobID int64, by string) (adminapi.DeadLetter, error)
	SinkJobs(ctx context.Context) (map[string]adminapi.JobCounts, error)
	Holders(ctx context.Context, roleGlob string) ([]adminapi.Holder, error)
}

// SinkInfo names a configured sink and its type.
type SinkInfo struct {
	Name string
	Type string
}

// ConsoleOptions configures the operator console and its JSON API on the admin listener.
type ConsoleOptions struct {
	Store ConsoleStore
	Sinks []SinkInfo
	// TestAlert sends a test alert, marked as such, to the named sink through the real sink
	// code; nothing is stored.
	TestAlert func(ctx context.Context, sink string) error
	// Activity is each sink's last success and failure.
	Activity *SinkActivity
	// Severity and Title are how alerting ranks and names a change.
	Severity func(*hookd.RoleChange) string
	Title    func(*hookd.RoleChange) string
	// Coverage says how each watched event type reaches hookd.
	Coverage func(ctx context.Context) (adminapi.Coverage, error)
	// Redact removes configured secrets from text shown (sink errors), as a last guard.
	Redact func(string) string
	// Links, when set, are where a responder goes from a change (Okta's Admin Console).
	Links func(*hookd.RoleChange) []adminapi.Link
}

// SinkActivity keeps each sink's last success and last failure, for the console.
type SinkActivity struct {
	mu sync.Mutex
	m  map[string]*activity
}

type activity struct {
	success, failure time.Time
	lastError        string
}

func (a *SinkActivity) of(sink string) *activity {
	if a.m == nil {
		a.m = map[string]*activity{}
	}
	if a.m[sink] == nil {
		a.m[sink] = &activity{}
	}
	return a.m[sink]
}

// Succeeded records that sink took an alert at at.
func (a *SinkActivity) Succeeded(sink string, at time.Time) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if x := a.of(sink); at.After(x.success) {
		x.success = at
	}
}

// Failed records that sink refused or failed an alert at at, and why.
func (a *SinkActivity) Failed(sink string, at time.Time, why string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	x := a.of(sink)
	x.failure, x.lastError = at, why
}

func (a *SinkActivity) get(sink string) activity {
	a.mu.Lock()
	defer a.mu.Unlock()
	return *a.of(sink)
}

// mountConsole adds the console's pages and API to the guarded admin routes.
func (s *Server) mountConsole(g *echo.Group) {
	co := s.opts.Console
	if co.Activity == nil {
		co.Activity = &SinkActivity{}
	}
	if co.Redact == nil {
		co.Redact = func(s string) string { return s }
	}
	if co.Severity == nil {
		co.Severity = func(*hookd.RoleChange) string { return "" }
	}
	if co.Title == nil {
		co.Title = func(rc *hookd.RoleChange) string { return rc.EventType }
	}
	g.GET("/", s.pageChanges)
	g.GET("/changes/:id", s.pageChange)
	g.GET("/deadletters", s.pageDeadLetters)
	g.POST("/deadletters/:id/:action", s.formDeadLetter)
	g.POST("/deadletters/:action", s.formDeadLetters)
	g.GET("/sinks", s.pageSinks)
	g.POST("/sinks/:name/test", s.formTest)
	g.GET("/coverage", s.pageCoverage)
	g.GET("/holders", s.pageHolders)

	api := g.Group("/api/v1")
	api.GET("/changes", answer(s.changes))
	api.GET("/changes/:id", answer(s.change))
	api.GET("/deadletters", answer(s.deadLetters))
	api.POST("/deadletters/:id/:action", answer(func(c echo.Context) (adminapi.Handled, error) { return s.handleOne(c, "api") }))
	api.POST("/deadletters/:action", answer(func(c echo.Context) (adminapi.Handled, error) { return s.handleAll(c, "api") }))
	api.GET("/sinks", answer(func(c echo.Context) ([]adminapi.Sink, error) { return s.sinks(c.Request().Context()) }))
	api.GET("/holders", answer(s.holders))
	api.GET("/coverage", answer(func(c echo.Context) (adminapi.Coverage, error) { return s.coverage(c.Request().Context()) }))
	api.POST("/sinks/:name/test", func(c echo.Context) error {
		res, err := s.testSink(c, "api")
		if err != nil {
			return err
		}
		status := http.StatusOK
		if !res.OK {
			status = http.StatusBadGateway
		}
		return c.JSON(status, res)
	})
}

// answer is an API route: fn's value as JSON, or its error through the one error handler.
func answer[T any](fn func(echo.Context) (T, error)) echo.HandlerFunc {
	return func(c echo.Context) error {
		v, err := fn(c)
		if err != nil {
			return err
		}
		return c.JSON(http.StatusOK, v)
	}
}

// holders lists the current holders matching the role pattern and group (?role=, ?group=).
func (s *Server) holders(c echo.Context) ([]adminapi.Holder, error) {
	hs, err := s.opts.Console.Store.Holders(c.Request().Context(), c.QueryParam("role"))
	if err != nil {
		return nil, err
	}
	return inGroup(hs, c.QueryParam("group")), nil
}

// inGroup keeps the holders that are the group, or hold their role through it: group is a
// case-insensitive part of the group's name, or its id. Empty keeps every holder.
func inGroup(hs []adminapi.Holder, group string) []adminapi.Holder {
	if group == "" {
		return hs
	}
	want := strings.ToLower(group)
	out := []adminapi.Holder{}
	for _, h := range hs {
		name, id := h.Via, h.ViaID
		if h.SubjectKind == string(hookd.SubjectGroup) {
			name, id = h.SubjectName, h.SubjectID
		}
		if id == group || (name != "" && strings.Contains(strings.ToLower(name), want)) {
			out = append(out, h)
		}
	}
	return out
}

func (s *Server) changes(c echo.Context) (adminapi.ChangePage, error) {
	co := s.opts.Console
	f, err := adminapi.ParseChangeFilter(c.QueryParams(), time.Now())
	if err != nil {
		return adminapi.ChangePage{}, err
	}
	page, err := co.Store.Changes(c.Request().Context(), f)
	if err != nil {
		return page, err
	}
	if page.Changes == nil {
		page.Changes = []adminapi.Change{}
	}
	for i := range page.Changes {
		s.present(&page.Changes[i])
		page.Changes[i].Record.Raw = nil // in the detail only: a page of raw events is heavy
	}
	return page, nil
}

// present fills what the store does not know (severity, title) and redacts errors.
func (s *Server) present(ch *adminapi.Change) {
	co := s.opts.Console
	if ch.Severity == "" { // stored before hookd kept the severity
		ch.Severity = co.Severity(ch.Record)
	}
	ch.Title = co.Title(ch.Record)
	if co.Links != nil {
		ch.Links = co.Links(ch.Record)
	}
	for i := range ch.Deliveries {
		ch.Deliveries[i].LastError = co.Redact(ch.Deliveries[i].LastError)
	}
}

func (s *Server) change(c echo.Context) (adminapi.Change, error) {
	ch, err := s.opts.Console.Store.Change(c.Request().Context(), c.Param("id"))
	if err != nil {
		return ch, err
	}
	s.present(&ch)
	return ch, nil
}

func (s *Server) deadLetters(c echo.Context) ([]adminapi.DeadLetter, error) {
	f := adminapi.DeadLetterFilter{Sink: c.QueryParam("sink"), Handled: c.QueryParam("handled") != "", Limit: deadLetterPage}
	if l := c.QueryParam("limit"); l != "" {
		n, err := strconv.Atoi(l)
		if err != nil || n < 1 {
			return nil, errors.Join(adminapi.ErrBadRequest, errors.New("limit must be a positive number"))
		}
		f.Limit = n
	}
	letters, err := s.opts.Console.Store.DeadLetters(c.Request().Context(), f)
	if letters == nil {
		letters = []adminapi.DeadLetter{}
	}
	for i := range letters {
		letters[i].Reason = s.opts.Console.Redact(letters[i].Reason)
	}
	return letters, err
}

// who names the operator of a repair for the log and the audit row: how they came and from
// where.
func (s *Server) who(c echo.Context, via string) string {
	how := "loopback"
	if s.opts.AdminToken != "" {
		how = "token"
	}
	return via + " from " + c.RealIP() + " (" + how + ")"
}

// deadLetterPage is how many dead letters a page lists, newest first (?limit= asks for
// more); Retry all and Discard all act on every one regardless.
const deadLetterPage = 200

var errAction = errors.Join(adminapi.ErrBadRequest, errors.New("the action is retry or discard"))

// handleOne retries or discards one dead letter.
func (s *Server) handleOne(c echo.Context, via string) (adminapi.Handled, error) {
	id, err := strconv.ParseInt(c.Param("id"), 10, 64)
	if err != nil {
		return adminapi.Handled{}, errors.Join(adminapi.ErrBadRequest, errors.New("the dead letter id is a job number"))
	}
	action := c.Param("action")
	d, err := s.handleLetter(c, action, id, s.who(c, via))
	if err != nil {
		return adminapi.Handled{}, err
	}
	return adminapi.Handled{Action: action, Letters: []adminapi.DeadLetter{d}}, nil
}

func (s *Server) handleLetter(c echo.Context, action string, id int64, by string) (adminapi.DeadLetter, error) {
	st := s.opts.Console.Store
	var d adminapi.DeadLetter
	var err error
	switch action {
	case "retry":
		d, err = st.RetryDeadLetter(c.Request().Context(), id, by)
	case "discard":
		d, err = st.DiscardDeadLetter(c.Request().Context(), id, by)
	default:
		return d, errAction
	}
	if err != nil {
		return d, err
	}
	s.log.Info("dead letter "+d.Handling, zap.Int64("job", id), zap.String("sink", d.Sink), zap.String("event", d.EventID),
		zap.Int64("retry_job", d.RetryJobID), zap.String("by", by))
	return d, nil
}

// knownSink reports whether a sink of that name is configured.
func (s *Server) knownSink(name string) bool {
	for _, si := range s.opts.Console.Sinks {
		if si.Name == name {
			return true
		}
	}
	return false
}

// handleAll retries or discards every open dead letter of one sink (the form or query field
// sink, required: a repair of all sinks at once is too easy to regret).
func (s *Server) handleAll(c echo.Context, via string) (adminapi.Handled, error) {
	action := c.Param("action")
	if action != "retry" && action != "discard" {
		return adminapi.Handled{}, errAction
	}
	sink := c.FormValue("sink")
	if sink == "" {
		return adminapi.Handled{}, errors.Join(adminapi.ErrBadRequest, errors.New("name the sink whose dead letters to "+action))
	}
	by := s.who(c, via)
	out := adminapi.Handled{Action: action, Letters: []adminapi.DeadLetter{}}
	for first := true; ; first = false {
		letters, err := s.opts.Console.Store.DeadLetters(c.Request().Context(), adminapi.DeadLetterFilter{Sink: sink})
		if err != nil {
			return out, err
		}
		if len(letters) == 0 && first && !s.knownSink(sink) {
			// A sink gone from the configuration may still have dead letters to handle; a
			// name that has neither is a typo, not "nothing to do".
			return out, errors.Join(adminapi.ErrNotFound, errors.New("no sink is named "+strconv.Quote(sink)))
		}
		if len(letters) == 0 {
			return out, nil
		}
		for _, l := range letters {
			d, err := s.handleLetter(c, action, l.JobID, by)
			if errors.Is(err, adminapi.ErrConflict) {
				continue // handled meanwhile by someone else
			}
			if err != nil {
				return out, err
			}
			out.Letters = append(out.Letters, d)
		}
	}
}

func (s *Server) sinks(ctx context.Context) ([]adminapi.Sink, error) {
	co := s.opts.Console
	counts, err := co.Store.SinkJobs(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]adminapi.Sink, 0, len(co.Sinks))
	for _, si := range co.Sinks {
		a := co.Activity.get(si.Name)
		out = append(out, adminapi.Sink{Name: si.Name, Type: si.Type, LastSuccess: a.success, LastFailure: a.failure,
			LastError: co.Redact(a.lastError), Jobs: counts[si.Name]})
	}
	return out, nil
}

// testSink sends a test alert to the sink named in the path.
func (s *Server) testSink(c echo.Context, via string) (adminapi.TestResult, error) {
	co := s.opts.Console
	name := c.Param("name")
	known := false
	for _, si := range co.Sinks {
		known = known || si.Name == name
	}
	if !known {
		return adminapi.TestResult{}, errors.Join(adminapi.ErrNotFound, errors.New("no sink is named "+strconv.Quote(name)))
	}
	if co.TestAlert == nil {
		return adminapi.TestResult{}, errors.Join(adminapi.ErrConflict, errors.New("test alerts are not wired"))
	}
	start := time.Now()
	ctx, cancel := context.WithTimeout(c.Request().Context(), 20*time.Second)
	defer cancel()
	err := co.TestAlert(ctx, name)
	res := adminapi.TestResult{Sink: name, OK: err == nil, Millis: time.Since(start).Milliseconds()}
	if err != nil {
		res.Error = co.Redact(err.Error())
	}
	s.log.Info("test alert sent", zap.String("sink", name), zap.Bool("ok", res.OK), zap.String("error", res.Error), zap.String("by", s.who(c, via)))
	return res, nil
}

func (s *Server) coverage(ctx context.Context) (adminapi.Coverage, error) {
	if s.opts.Console.Coverage == nil {
		return adminapi.Coverage{Types: []adminapi.TypeCoverage{}}, nil
	}
	cov, err := s.opts.Console.Coverage(ctx)
	sort.SliceStable(cov.Types, func(i, j int) bool { return cov.Types[i].Covered() && !cov.Types[j].Covered() })
	if cov.Poller != nil {
		cov.Poller.LastError = s.opts.Console.Redact(cov.Poller.LastError)
	}
	return cov, err
}
