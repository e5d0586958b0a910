// Command vulngate reads govulncheck's JSON stream on standard input and fails when the code
// calls a vulnerability that the accepted list (the file named by its argument) does not
// name. Each accepted line is "ID reason"; blank lines and lines starting with # are skipped.
package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
)

type message struct {
	Finding *struct {
		OSV          string `json:"osv"`
		FixedVersion string `json:"fixed_version"`
		Trace        []struct {
			Module   string `json:"module"`
			Package  string `json:"package"`
			Function string `json:"function"`
		} `json:"trace"`
	} `json:"finding"`
}

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: govulncheck -format json ./... | vulngate ACCEPTED_FILE")
		os.Exit(2)
	}
	accepted, err := readAccepted(os.Args[1])
	if err != nil {
		fmt.Fprintln(os.Stderr, "vulngate:", err)
		os.Exit(2)
	}
	called, err := calledFindings(os.Stdin)
	if err != nil {
		fmt.Fprintln(os.Stderr, "vulngate:", err)
		os.Exit(2)
	}
	var fresh []string
	for id, where := range called {
		if reason, ok := accepted[id]; ok {
			fmt.Printf("accepted  %s  (%s)  %s\n", id, where, reason)
			continue
		}
		fresh = append(fresh, id+"  ("+where+")")
	}
	for id := range accepted {
		if _, ok := called[id]; !ok {
			fmt.Printf("note      %s is accepted but no longer found: remove it from %s\n", id, os.Args[1])
		}
	}
	if len(fresh) > 0 {
		sort.Strings(fresh)
		fmt.Println("new vulnerabilities the code calls (fix them, or mitigate and list them with the reason):")
		for _, f := range fresh {
			fmt.Println("  " + f)
		}
		os.Exit(1)
	}
	fmt.Printf("vulngate: %d called vulnerabilities, all accepted with a reason\n", len(called))
}

// calledFindings returns the vulnerabilities whose vulnerable function the code calls, with
// the module or package they are in.
func calledFindings(r io.Reader) (map[string]string, error) {
	out := map[string]string{}
	dec := json.NewDecoder(r)
	for {
		var m message
		if err := dec.Decode(&m); err == io.EOF {
			return out, nil
		} else if err != nil {
			return nil, fmt.Errorf("govulncheck output: %w", err)
		}
		if m.Finding == nil || len(m.Finding.Trace) == 0 || m.Finding.Trace[0].Function == "" {
			continue // imported or required, not called
		}
		t := m.Finding.Trace[0]
		out[m.Finding.OSV] = strings.TrimSpace(t.Module + " " + t.Package)
	}
}

func readAccepted(path string) (map[string]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	out := map[string]string{}
	s := bufio.NewScanner(f)
	for s.Scan() {
		line := strings.TrimSpace(s.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		id, reason, _ := strings.Cut(line, " ")
		if strings.TrimSpace(reason) == "" {
			return nil, fmt.Errorf("%s: %s is accepted without a reason", path, id)
		}
		out[id] = strings.TrimSpace(reason)
	}
	return out, s.Err()
}
