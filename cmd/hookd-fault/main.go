// Command hookd-fault runs hookd's fault suite against the real binary, on loopback only:
// kill -9 under load, a sink outage, a database outage through a TCP proxy it controls, the
// poison (NUL-bearing) event beside ordinary traffic, the hostile corpus with memory before
// and after, and SIGTERM with deliveries in flight. Each scenario prints its figures and the
// targets it missed; the exit code is 1 when any target was missed.
//
//	go run ./cmd/hookd-fault                  # the short version, as CI runs it
//	go run ./cmd/hookd-fault --full           # the figures of docs/RELIABILITY.md
//	go run ./cmd/hookd-fault --scenarios kill9,poison --database-url postgres://...
//
// HOOKD_FAULT_DEBUG=1 prints the tail of hookd's log after the hostile and db-outage runs.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"strings"
	"time"
)

func main() {
	os.Exit(run(os.Args[1:]))
}

func run(args []string) int {
	fs := flag.NewFlagSet("hookd-fault", flag.ContinueOnError)
	full := fs.Bool("full", false, "run the long version (longer loads, more rounds)")
	only := fs.String("scenarios", "", "comma-separated scenarios to run (default: all): "+strings.Join(scenarioNames(), ", "))
	dbURL := fs.String("database-url", os.Getenv("HOOKD_TEST_DATABASE_URL"), "Postgres URL for the Postgres runs (default $HOOKD_TEST_DATABASE_URL; without it, SQLite only)")
	bin := fs.String("hookd", "", "hookd binary to test (default: build ./cmd/hookd)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	s, err := newSuite(*bin, *dbURL, *full)
	if err != nil {
		fmt.Fprintln(os.Stderr, "hookd-fault:", err)
		return 2
	}
	defer s.close()
	want := map[string]bool{}
	for _, n := range strings.Split(*only, ",") {
		if n = strings.TrimSpace(n); n != "" {
			want[n] = true
		}
	}
	failed := 0
	for _, sc := range scenarios {
		if len(want) > 0 && !want[sc.name] {
			continue
		}
		for _, be := range s.backends(sc.backends) {
			began := time.Now()
			r := sc.run(context.Background(), s, be)
			r.print(os.Stdout, sc.name, be, time.Since(began))
			if len(r.missed) > 0 {
				failed++
			}
		}
	}
	if failed > 0 {
		fmt.Printf("hookd-fault: %d scenario run(s) missed a target\n", failed)
		return 1
	}
	fmt.Println("hookd-fault: every target met")
	return 0
}
