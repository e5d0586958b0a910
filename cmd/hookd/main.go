// Command hookd receives Okta event hooks, stores every watched role change durably, and
// alerts on it. Subcommands: serve (the default), replay, check, changes, deadletters, sinks,
// holders, okta, healthcheck, version.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"
)

// version is set at build time with -ldflags "-X main.version=..."; without it, the build
// says what it knows (versionString).
var version = "dev"

// versionString is the version, or for a development build the module version and the VCS
// revision the go command recorded, when there are any.
func versionString() string {
	if version != "dev" {
		return version
	}
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return version
	}
	v := version
	if mv := bi.Main.Version; mv != "" && mv != "(devel)" {
		v = mv
	}
	var rev, modified string
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			if s.Value == "true" {
				modified = ", modified"
			}
		}
	}
	if rev != "" {
		v += " (" + rev[:min(12, len(rev))] + modified + ")"
	}
	return v + " " + bi.GoVersion
}

// defaultMemoryLimit is the Go runtime's soft memory limit unless GOMEMLIMIT says otherwise:
// it makes the collector work harder, instead of growing the heap, as hookd nears it, so
// bursts of large deliveries stay well under the 256 MB hookd is sized for.
const defaultMemoryLimit = 160 << 20

func main() {
	if _, set := os.LookupEnv("GOMEMLIMIT"); !set {
		debug.SetMemoryLimit(defaultMemoryLimit)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	m := &Main{Stdout: os.Stdout, Stderr: os.Stderr, Getenv: os.LookupEnv, Environ: os.Environ}
	os.Exit(m.Run(ctx, os.Args[1:]))
}

// Main is the whole program, so that tests run the real thing in-process.
type Main struct {
	Stdout, Stderr io.Writer
	Getenv         func(string) (string, bool)
	// Environ lists the environment (NAME=value), for serve and check to refuse a HOOKD_
	// variable hookd does not read; nil checks none.
	Environ func() []string
	// Listening, when set, is told the address serve listens on once it accepts requests;
	// AdminListening, the admin listener's, just before.
	Listening      func(addr string)
	AdminListening func(addr string)
}

// errUsage marks a mistake in the command line; its message has been printed already.
var errUsage = errors.New("usage")

// Run runs one subcommand until it finishes or ctx ends, and returns the exit code.
func (m *Main) Run(ctx context.Context, args []string) int {
	cmd := "serve"
	if len(args) > 0 && len(args[0]) > 0 && args[0][0] != '-' {
		cmd, args = args[0], args[1:]
	} else if len(args) > 0 {
		switch args[0] {
		case "-h", "-help", "--help":
			cmd, args = "help", args[1:]
		case "-version", "--version":
			cmd, args = "version", args[1:]
		}
	}
	var err error
	switch cmd {
	case "serve":
		err = m.serve(ctx, args)
	case "replay":
		err = m.replay(ctx, args)
	case "check":
		err = m.check(args)
	case "version":
		fs := m.newFlags("version")
		fs.Usage = func() { fmt.Fprintln(fs.Output(), "usage: hookd version: print hookd's version and how it was built") }
		if err = m.parse(fs, args); err == nil {
			fmt.Fprintf(m.Stdout, "hookd %s\n", versionString())
		}
	case "healthcheck":
		err = m.healthcheck(ctx, args)
	case "okta":
		err = m.oktaCommand(ctx, args)
	case "changes":
		err = m.changesCommand(ctx, args)
	case "deadletters":
		err = m.deadlettersCommand(ctx, args)
	case "sinks":
		err = m.sinksCommand(ctx, args)
	case "holders":
		err = m.holdersCommand(ctx, args)
	case "help":
		m.usage(m.Stdout)
	default:
		fmt.Fprintf(m.Stderr, "hookd: unknown command %q\n", cmd)
		m.usage(m.Stderr)
		return 2
	}
	switch {
	case err == nil:
		return 0
	case errors.Is(err, flag.ErrHelp):
		return 0 // the flags were printed, as asked
	case errors.Is(err, errUsage):
		return 2
	default:
		fmt.Fprintf(m.Stderr, "hookd %s: %v\n", cmd, err)
		return 1
	}
}

// usage lists the commands on w: standard output when asked for, standard error after a
// mistake.
func (m *Main) usage(w io.Writer) {
	fmt.Fprint(w, `usage: hookd [command] [flags]

commands:
  serve    run the server (the default)          hookd serve --config hookd.yaml
  replay   send payload files the way Okta would  hookd replay --url http://127.0.0.1:8080/okta/events
  check    print the effective configuration and what each watched event type needs
  okta     register the event hook in Okta, or show its status   hookd okta register --url https://…/okta/events
  changes  list the stored role changes and their deliveries   hookd changes --role "Workflows Admin" --since 7d
  deadletters  list, retry or discard alerts no sink took   hookd deadletters retry --sink slack --all
  sinks    list sinks, or send a test alert        hookd sinks test slack
  holders  who holds which watched role now          hookd holders --role "Workflows Admin*"
           or read the System Log's 90 days into it    hookd holders import --since 90d
           or check admin roles against Okta's          hookd holders snapshot
           or declare a group's old Workflows role      hookd holders declare GROUP_ID ROLE
  healthcheck  exit 0 when the local hookd answers /healthz (for container health checks)
  version  print the version

Every command takes --help. serve and check take --config FILE; HOOKD_* variables override it.
changes, deadletters, sinks and holders talk to a running hookd's admin listener (--admin-url, default
HOOKD_ADMIN_ADDR), with HOOKD_ADMIN_TOKEN when it needs one; --json prints stable JSON.
`)
}

// newFlags returns a flag set that prints its errors to Stderr.
func (m *Main) newFlags(name string) *flag.FlagSet {
	fs := flag.NewFlagSet("hookd "+name, flag.ContinueOnError)
	fs.SetOutput(m.Stderr)
	return fs
}

// parse parses args into fs. Help asked for (-h, --help) goes to standard output; a mistake
// and the usage after it go to standard error.
func (m *Main) parse(fs *flag.FlagSet, args []string) error {
	for _, a := range args {
		if a == "--" {
			break
		}
		if a == "-h" || a == "-help" || a == "--help" {
			fs.SetOutput(m.Stdout)
		}
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return errUsage
	}
	return nil
}
