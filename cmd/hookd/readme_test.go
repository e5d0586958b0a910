package main

import (
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"unicode"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The README is the front page: short, with an Install section, the quick start's two
// commands as promised, links that lead somewhere, and a "see it work" that works.

const readmePath = "../../README.md"

func readDoc(t *testing.T, path string) string {
	t.Helper()
	data, err := os.ReadFile(path)
	require.NoError(t, err)
	return string(data)
}

func TestReadmeIsAFrontPage(t *testing.T) {
	readme := readDoc(t, readmePath)
	assert.LessOrEqual(t, len(readme), 12_500, "README.md is the front page: move reference text to docs/")
	docs, err := filepath.Glob("../../docs/*.md")
	require.NoError(t, err)
	for _, page := range append(docs, readmePath) {
		assert.NotContains(t, readDoc(t, page), "three times the body limit", "%s: the budget is twice the body limit (handlers Options.BodyBudget)", page)
	}
	license, err := os.ReadFile("../../LICENSE")
	require.NoError(t, err)
	assert.True(t, strings.HasPrefix(strings.TrimSpace(string(license)), "Apache License\n                           Version 2.0"), "the LICENSE is Apache-2.0")
	var install bool
	for _, h := range headings(readme) {
		install = install || strings.Contains(h, "Install")
	}
	assert.True(t, install, "README has an Install section")
	// The quick start is a promise to a new user on a fresh machine: these two, byte for byte.
	assert.Contains(t, readme, "```sh\n"+
		"go run ./cmd/hookd                  # run hookd on its embedded defaults\n"+
		"go test -race -count=1 ./...        # run the tests\n"+
		"```\n")
	assert.Contains(t, readme, "skip without one", "README says the browser tests skip without Chromium")
	var pages int
	for _, l := range docLinks(readme) {
		if strings.HasPrefix(l, "docs/") && strings.HasSuffix(strings.SplitN(l, "#", 2)[0], ".md") {
			pages++
		}
	}
	assert.GreaterOrEqual(t, pages, 3, "README links to the reference pages")
}

// TestReadmeLinksResolve: every relative link of README.md and docs/*.md names a file that
// exists, and an anchor names a heading of that page.
func TestReadmeLinksResolve(t *testing.T) {
	files, err := filepath.Glob("../../docs/*.md")
	require.NoError(t, err)
	files = append([]string{readmePath}, files...)
	anchors := map[string]map[string]bool{}
	anchorsOf := func(path string) map[string]bool {
		if a, ok := anchors[path]; ok {
			return a
		}
		a := map[string]bool{}
		seen := map[string]int{}
		for _, h := range headings(readDoc(t, path)) {
			s := slug(h)
			if n := seen[s]; n > 0 {
				a[s+"-"+strconv.Itoa(n)] = true
			} else {
				a[s] = true
			}
			seen[s]++
		}
		anchors[path] = a
		return a
	}
	var checked int
	for _, file := range files {
		for _, link := range docLinks(readDoc(t, file)) {
			if strings.Contains(link, "://") || strings.HasPrefix(link, "mailto:") {
				continue
			}
			target, anchor, _ := strings.Cut(link, "#")
			path := file
			if target != "" {
				path = filepath.Join(filepath.Dir(file), target)
				_, err := os.Stat(path)
				if !assert.NoError(t, err, "%s links to %s", file, link) {
					continue
				}
			}
			checked++
			if anchor != "" && strings.HasSuffix(path, ".md") {
				assert.True(t, anchorsOf(path)[anchor], "%s links to %s: no such heading in %s", file, link, path)
			}
		}
	}
	assert.Greater(t, checked, 10)
}

// TestReadmeSeeItWork runs the README's "see it work" as a new user does: hookd on its
// defaults, the README's replay, then its `hookd changes` example, which must list the
// changes just replayed (the samples are dated, so a filter such as --since 7d finds none).
func TestReadmeSeeItWork(t *testing.T) {
	readme := readDoc(t, readmePath)
	cmds := hookdCommands(t, section(t, readme, "See it work"), "go run ./cmd/hookd")
	require.Len(t, cmds, 2, "the replay and the changes example: %q", cmds)
	replay, changes := cmds[0], cmds[1]
	require.Equal(t, "replay", replay[0])
	require.Equal(t, "changes", changes[0])

	env := map[string]string{"HOOKD_DATA_DIR": t.TempDir()}
	srv := start(t, env)
	// The README's commands find hookd at :8080 and 127.0.0.1:9090; this one is on random ports.
	url := []string{"--url", "http://" + srv.addr + "/okta/events"}
	adminURL := []string{"--admin-url", "http://" + srv.adminAddr}

	code, out, errOut := run(env, append(replay, url...)...)
	require.Equal(t, 0, code, "%s\n%s", out, errOut)
	assert.Contains(t, out, "ok          verification challenge answered")
	assert.Contains(t, out, "ok  400  malformed-")
	assert.NotContains(t, out, "UNEXPECTED")

	code, out, errOut = run(env, append(changes, adminURL...)...)
	require.Equal(t, 0, code, errOut)
	rows := strings.Split(strings.TrimSpace(out), "\n")
	require.Greater(t, len(rows), 1, "the README's changes example lists the replayed changes:\n%s", out)
	assert.Contains(t, rows[0], "PUBLISHED")
	assert.Contains(t, out, "Workflows role granted")
	assert.Contains(t, out, "Workflows Administrator")

	// The console page's headline example lists them too.
	var example []string
	for _, c := range hookdCommands(t, readDoc(t, "../../docs/console.md"), "hookd") {
		if c[0] == "changes" && example == nil {
			example = c
		}
	}
	require.NotNil(t, example, "docs/console.md shows hookd changes")
	code, out, errOut = run(env, append(example, adminURL...)...)
	require.Equal(t, 0, code, errOut)
	assert.Greater(t, len(strings.Split(strings.TrimSpace(out), "\n")), 1, "docs/console.md's %q lists the replayed changes:\n%s", example, out)

	// "Run replay again": the malformed samples are refused again, everything else is a
	// duplicate, and replay, which expects both, exits 0.
	code, out, errOut = run(env, append(replay, url...)...)
	require.Equal(t, 0, code, "%s\n%s", out, errOut)
	var ok200, ok400 int
	for _, line := range strings.Split(out, "\n") {
		switch {
		case strings.HasPrefix(line, "ok  200  "):
			ok200++
			assert.Contains(t, line, " accepted=0 ", "nothing new the second time")
		case strings.HasPrefix(line, "ok  400  "):
			ok400++
			assert.Contains(t, line, "malformed-")
		}
	}
	assert.Equal(t, 5, ok400, "README: the five malformed-* samples are answered 400 again")
	assert.Greater(t, ok200, 10)
}

// headings lists the markdown headings of text, outside code blocks, without their #s.
func headings(text string) []string {
	var out []string
	fenced := false
	for _, line := range strings.Split(text, "\n") {
		if strings.HasPrefix(line, "```") {
			fenced = !fenced
			continue
		}
		if !fenced && strings.HasPrefix(line, "#") {
			out = append(out, strings.TrimSpace(strings.TrimLeft(line, "#")))
		}
	}
	return out
}

// slug is GitHub's anchor for a heading: lower case, letters, digits, spaces made hyphens,
// hyphens and underscores; everything else dropped.
func slug(h string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(h) {
		switch {
		case r == ' ':
			b.WriteRune('-')
		case r == '-' || r == '_' || unicode.IsLetter(r) || unicode.IsDigit(r):
			b.WriteRune(r)
		}
	}
	return b.String()
}

var (
	linkRE     = regexp.MustCompile(`\]\(([^)\s]+)\)`)
	codeSpanRE = regexp.MustCompile("`[^`]*`")
)

// docLinks lists the targets of the markdown links and images of text, outside code.
func docLinks(text string) []string {
	var out []string
	fenced := false
	for _, line := range strings.Split(text, "\n") {
		if strings.HasPrefix(strings.TrimSpace(line), "```") {
			fenced = !fenced
			continue
		}
		if fenced {
			continue
		}
		for _, m := range linkRE.FindAllStringSubmatch(codeSpanRE.ReplaceAllString(line, ""), -1) {
			out = append(out, m[1])
		}
	}
	return out
}

// section is the text under the heading that contains title, up to the next heading of the
// same or a higher level.
func section(t *testing.T, text, title string) string {
	t.Helper()
	lines := strings.Split(text, "\n")
	for i, line := range lines {
		if !strings.HasPrefix(line, "#") || !strings.Contains(line, title) {
			continue
		}
		level := len(line) - len(strings.TrimLeft(line, "#"))
		end := len(lines)
		for j := i + 1; j < len(lines); j++ {
			l := lines[j]
			if n := len(l) - len(strings.TrimLeft(l, "#")); n > 0 && n <= level && strings.HasPrefix(l[n:], " ") {
				end = j
				break
			}
		}
		return strings.Join(lines[i+1:end], "\n")
	}
	t.Fatalf("no section %q", title)
	return ""
}

// hookdCommands lists the commands of text's ```sh blocks that run program, as the arguments
// after it: split at spaces, double quotes grouping, a # starting a comment.
func hookdCommands(t *testing.T, text, program string) [][]string {
	t.Helper()
	var out [][]string
	inSh := false
	for _, line := range strings.Split(text, "\n") {
		switch {
		case strings.HasPrefix(line, "```sh"):
			inSh = true
		case strings.HasPrefix(line, "```"):
			inSh = false
		case inSh && strings.HasPrefix(line, program+" "):
			out = append(out, shellWords(t, strings.TrimPrefix(line, program+" ")))
		}
	}
	return out
}

func shellWords(t *testing.T, line string) []string {
	t.Helper()
	var words []string
	var word strings.Builder
	inWord, quoted := false, false
	for _, r := range line {
		switch {
		case r == '"':
			quoted = !quoted
			inWord = true
		case r == '#' && !quoted && !inWord:
			return words
		case r == ' ' && !quoted:
			if inWord {
				words = append(words, word.String())
				word.Reset()
				inWord = false
			}
		default:
			word.WriteRune(r)
			inWord = true
		}
	}
	require.False(t, quoted, "unbalanced quote in %q", line)
	if inWord {
		words = append(words, word.String())
	}
	return words
}

// TestReferenceDocsKeepTheirShape: the architecture page names every package of the tree in
// its package table, and the benchmarks page stays a page of today's figures, each section
// with the command that measures it.
func TestReferenceDocsKeepTheirShape(t *testing.T) {
	arch := readDoc(t, "../../docs/ARCHITECTURE.md")
	var unnamed []string
	err := filepath.WalkDir("../..", func(path string, d fs.DirEntry, err error) error {
		if err != nil || !d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel("../..", path)
		if rel != "." && (strings.HasPrefix(d.Name(), ".") || d.Name() == "testdata" || rel == "docs") {
			return filepath.SkipDir
		}
		if goFiles, _ := filepath.Glob(filepath.Join(path, "*.go")); len(goFiles) == 0 {
			return nil
		}
		// The root package has its own row; an internal package may be named in the row
		// of them all, without "internal/".
		named := strings.Contains(arch, "`"+rel+"/`") || rel == "." && strings.Contains(arch, "| `.` (package `hookd`) |") ||
			strings.HasPrefix(rel, "internal/") && strings.Contains(arch, "`"+strings.TrimPrefix(rel, "internal/")+"/`")
		if !named {
			unnamed = append(unnamed, rel)
		}
		return nil
	})
	require.NoError(t, err)
	assert.Empty(t, unnamed, "packages docs/ARCHITECTURE.md does not name")

	bench := readDoc(t, "../../docs/BENCHMARKS.md")
	assert.LessOrEqual(t, len(bench), 16*1024, "today's figures, not their history")
	for _, s := range strings.Split(bench, "\n## ")[1:] {
		title, _, _ := strings.Cut(s, "\n")
		assert.Regexp(t, "`(go |hookd|bash|\\./|HOOKD_)", s, "section %q names its command", title)
	}
}
