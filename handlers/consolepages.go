package handlers

import (
	"bytes"
	"embed"
	"encoding/json"
	"html/template"
	"io/fs"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/hookd/hookd"
	"github.com/hookd/hookd/hook"
	"github.com/hookd/hookd/internal/adminapi"
	"github.com/labstack/echo/v4"
)

// The console's templates and stylesheet are embedded: it needs no CDN and no JavaScript.
//
//go:embed console
var consoleFS embed.FS

var consoleTemplates = template.Must(template.New("").Funcs(template.FuncMap{
	"ts": func(t time.Time) string {
		if t.IsZero() {
			return "—"
		}
		return t.UTC().Format("2006-01-02 15:04:05Z")
	},
	"join": func(names []string) string { return strings.Join(names, ", ") },
	"path": url.PathEscape,
	"uncovered": func(types []adminapi.TypeCoverage) []string {
		var out []string
		for _, t := range types {
			if !t.Covered() {
				out = append(out, t.EventType)
			}
		}
		return out
	},
	"severities": func() []string { return []string{"critical", "high", "medium", "low"} },
	"findingIDs": func() []string { return hookd.FindingIDs },
	"pretty": func(raw json.RawMessage) string {
		var b bytes.Buffer
		if json.Indent(&b, raw, "", "  ") != nil {
			return string(raw)
		}
		return b.String()
	},
	"record": func(rc *hookd.RoleChange) string {
		view := *rc
		view.Raw = nil
		// The page escapes it for HTML: JSON's own \u003c for < would only hide the text.
		var b bytes.Buffer
		enc := json.NewEncoder(&b)
		enc.SetEscapeHTML(false)
		enc.SetIndent("", "  ")
		_ = enc.Encode(&view)
		return strings.TrimSuffix(b.String(), "\n")
	},
}).ParseFS(consoleFS, "console/*.html"))

// staticFS is the stylesheet, served at /static/.
var staticFS, _ = fs.Sub(consoleFS, "console/static")

// page is what every console page's layout needs, and the page's own data.
type page struct {
	Title  string
	Nav    string
	Notice string
	// SignOut shows the sign-out button: the page was opened in a console session.
	SignOut bool
	Data    any
}

func (s *Server) render(c echo.Context, status int, name string, p page) error {
	p.SignOut = s.opts.AdminToken != "" && s.validSession(c)
	var b bytes.Buffer
	if err := consoleTemplates.ExecuteTemplate(&b, name, p); err != nil {
		return err
	}
	c.Response().Header().Set("Content-Security-Policy", "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'")
	c.Response().Header().Set("X-Content-Type-Options", "nosniff")
	c.Response().Header().Set("Referrer-Policy", "no-referrer")
	return c.HTMLBlob(status, b.Bytes())
}

type changesData struct {
	Filter   url.Values
	Page     adminapi.ChangePage
	Older    string
	Sinks    []SinkInfo
	Types    []string
	Filtered bool
}

func (s *Server) pageChanges(c echo.Context) error {
	pg, err := s.changes(c)
	if err != nil {
		return err
	}
	q := c.QueryParams()
	d := changesData{Filter: q, Page: pg, Sinks: s.opts.Console.Sinks}
	for _, t := range hook.Watched() {
		d.Types = append(d.Types, t.EventType)
	}
	for k, v := range q {
		if k != "before" && len(v) > 0 && v[0] != "" {
			d.Filtered = true
		}
	}
	if pg.Next != "" {
		older := url.Values{}
		for k, v := range q {
			older[k] = v
		}
		older.Set("before", pg.Next)
		d.Older = "/?" + older.Encode()
	}
	return s.render(c, http.StatusOK, "changes", page{Title: "Role changes", Nav: "changes", Data: d})
}

func (s *Server) pageChange(c echo.Context) error {
	ch, err := s.change(c)
	if err != nil {
		return err
	}
	return s.render(c, http.StatusOK, "change", page{Title: ch.Title, Nav: "changes", Data: ch})
}

type deadData struct {
	Letters []adminapi.DeadLetter
	Limit   int
	Sink    string
	Handled bool
	Sinks   []SinkInfo
}

func (s *Server) pageDeadLetters(c echo.Context) error {
	letters, err := s.deadLetters(c)
	if err != nil {
		return err
	}
	notice := ""
	if n := c.QueryParam("done"); n != "" {
		if count, err := strconv.Atoi(n); err == nil {
			notice = strconv.Itoa(count) + " dead letter(s) " + map[string]string{"retry": "re-queued", "discard": "discarded"}[c.QueryParam("action")]
		}
	}
	d := deadData{Letters: letters, Limit: deadLetterPage, Sink: c.QueryParam("sink"), Handled: c.QueryParam("handled") != "", Sinks: s.opts.Console.Sinks}
	return s.render(c, http.StatusOK, "deadletters", page{Title: "Dead letters", Nav: "deadletters", Notice: notice, Data: d})
}

// formDeadLetter is the console's Retry or Discard button for one letter.
func (s *Server) formDeadLetter(c echo.Context) error {
	h, err := s.handleOne(c, "console")
	if err != nil {
		return err
	}
	return s.afterRepair(c, h)
}

// formDeadLetters is the console's Retry all or Discard all for one sink.
func (s *Server) formDeadLetters(c echo.Context) error {
	h, err := s.handleAll(c, "console")
	if err != nil {
		return err
	}
	return s.afterRepair(c, h)
}

// afterRepair sends the browser back to the dead letters (post, redirect, get).
func (s *Server) afterRepair(c echo.Context, h adminapi.Handled) error {
	q := url.Values{"done": {strconv.Itoa(len(h.Letters))}, "action": {h.Action}}
	if sink := c.FormValue("sink"); sink != "" {
		q.Set("sink", sink)
	}
	return c.Redirect(http.StatusSeeOther, "/deadletters?"+q.Encode())
}

type sinksData struct {
	Sinks  []adminapi.Sink
	Tested *adminapi.TestResult
}

func (s *Server) pageSinks(c echo.Context) error {
	return s.renderSinks(c, nil)
}

func (s *Server) renderSinks(c echo.Context, tested *adminapi.TestResult) error {
	sinks, err := s.sinks(c.Request().Context())
	if err != nil {
		return err
	}
	return s.render(c, http.StatusOK, "sinks", page{Title: "Sinks", Nav: "sinks", Data: sinksData{Sinks: sinks, Tested: tested}})
}

func (s *Server) formTest(c echo.Context) error {
	res, err := s.testSink(c, "console")
	if err != nil {
		return err
	}
	return s.renderSinks(c, &res)
}

func (s *Server) pageCoverage(c echo.Context) error {
	cov, err := s.coverage(c.Request().Context())
	if err != nil {
		return err
	}
	return s.render(c, http.StatusOK, "coverage", page{Title: "Coverage", Nav: "coverage", Data: cov})
}

type holdersData struct {
	Role, Group string
	Holders     []adminapi.Holder
}

func (s *Server) pageHolders(c echo.Context) error {
	holders, err := s.holders(c)
	if err != nil {
		return err
	}
	return s.render(c, http.StatusOK, "holders", page{Title: "Holders", Nav: "holders",
		Data: holdersData{Role: c.QueryParam("role"), Group: c.QueryParam("group"), Holders: holders}})
}

// renderError is an error page for a browser.
func (s *Server) renderError(c echo.Context, status int, body errorBody) {
	_ = s.render(c, status, "error", page{Title: body.Error, Data: body})
}
