package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/hookd/hookd/config"
	"github.com/hookd/hookd/internal/termtext"
	"github.com/hookd/hookd/okta"
	"github.com/hookd/hookd/store"
	"go.uber.org/zap"
	"golang.org/x/time/rate"
)

// holdersDeclare records that a group holds a Workflows role it got before the System Log's
// memory, which no Okta API lists: from then on, joining the group is alerted as getting the
// role.
func (m *Main) holdersDeclare(ctx context.Context, args []string) error {
	fs := m.newFlags("holders declare")
	configPath := fs.String("config", "", "YAML configuration file (HOOKD_* environment variables override it)")
	name := fs.String("name", "", "the group's name as Okta shows it (default: its id)")
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "usage: hookd holders declare [--name NAME] GROUP_ID ROLE")
		fs.PrintDefaults()
	}
	if err := m.parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 2 || fs.Arg(0) == "" || fs.Arg(1) == "" {
		fmt.Fprintln(m.Stderr, "hookd holders declare: name the group's Okta id and the Workflows role, e.g. hookd holders declare --name \"Flow Builders\" 00g1abcd \"Connection Manager\"")
		return errUsage
	}
	cfg, err := config.Load(*configPath, m.Getenv)
	if err != nil {
		return err
	}
	st, err := store.Open(ctx, store.Options{DataDir: cfg.DataDir, DatabaseURL: cfg.DatabaseURL, ReplicaID: cfg.ReplicaID, Beside: true})
	if err != nil {
		return err
	}
	defer st.Close()
	group := store.GroupRef{ID: fs.Arg(0), Name: *name}
	if err := st.DeclareGroupRole(ctx, group, fs.Arg(1)); err != nil {
		return err
	}
	fmt.Fprintf(m.Stdout, "declared: group %s holds the Workflows role %q (known by: declared); its members hold it too\n",
		termtext.Escape(group.ID), fs.Arg(1))
	return nil
}

// holdingMembers are the members who can use what the group holds: a deprovisioned user
// cannot sign in, and Okta keeps them in their groups.
func holdingMembers(members []okta.GroupMember) []store.GroupMember {
	out := make([]store.GroupMember, 0, len(members))
	for _, mb := range members {
		if mb.Status == "DEPROVISIONED" {
			continue
		}
		out = append(out, store.GroupMember{ID: mb.ID, Name: mb.DisplayName})
	}
	return out
}

// groupLister lists a group's members; okta.Client satisfies it.
type groupLister interface {
	GroupMembers(ctx context.Context, groupID string) ([]okta.GroupMember, error)
}

// groupRead is what one reading of a group's members from Okta did.
type groupRead struct {
	listed, added, removed int
	gone                   bool // Okta has the group no more: nobody holds anything through it
}

// readGroup reads the group's members from Okta and records them, as of the moment before
// the listing (a change during it is newer than what it shows).
func readGroup(ctx context.Context, st *store.Store, client groupLister, g store.GroupRef) (groupRead, error) {
	at := time.Now()
	members, err := client.GroupMembers(ctx, g.ID)
	var r groupRead
	if errors.Is(err, okta.ErrGroupNotFound) {
		members, err, r.gone = nil, nil, true
	}
	if err != nil {
		return r, forbidden(err, "reading group members", "okta.groups.read")
	}
	r.listed = len(members)
	r.added, r.removed, err = st.SyncGroupMembers(ctx, g, holdingMembers(members), at)
	return r, err
}

// syncGroups reads from Okta the members of every group the ledger knows to hold a watched
// role, one progress line a group on w; the first failure ends the run.
func syncGroups(ctx context.Context, st *store.Store, client groupLister, w io.Writer) error {
	groups, err := st.RoleHoldingGroups(ctx)
	if err != nil {
		return err
	}
	for _, g := range groups {
		r, err := readGroup(ctx, st, client, g)
		if err != nil {
			return err
		}
		name := termtext.Escape(g.Name) + " (" + termtext.Escape(g.ID) + ")"
		if r.gone {
			fmt.Fprintf(w, "group %s: not in Okta any more; %d members no longer hold its roles through it\n", name, r.removed)
			continue
		}
		fmt.Fprintf(w, "group %s: %d members in Okta, %d new to the ledger, %d no longer members\n", name, r.listed, r.added, r.removed)
	}
	return nil
}

// groupResync is how long a group's members, as Okta listed them, stand before serve reads
// them again; a group that just gained a role is read at the next run.
const groupResync = 15 * time.Minute

// groupSyncTask is serve's periodic reading of the members of role-holding groups: each group
// not read within groupResync (a group that just gained a role: never) is read from Okta.
// A failure to read is logged and left for the next run: the membership events keep coming.
func groupSyncTask(st *store.Store, client groupLister, warn func(error)) func(context.Context) error {
	return func(ctx context.Context) error {
		groups, err := st.RoleHoldingGroups(ctx)
		if err != nil {
			return err
		}
		for _, g := range groups {
			key := "group members " + g.ID
			last, err := st.State(ctx, key)
			if err != nil {
				return err
			}
			if t, err := time.Parse(time.RFC3339Nano, last); err == nil && time.Since(t) < groupResync {
				continue
			}
			read := time.Now()
			if _, err := readGroup(ctx, st, client, g); err != nil {
				warn(err)
				return nil
			}
			if err := st.SetState(ctx, key, read.UTC().Format(time.RFC3339Nano)); err != nil {
				return err
			}
		}
		return nil
	}
}

// addGroupSync has serve read the members of role-holding groups from Okta, at the poller's
// pace, with a credential of its own asking for okta.groups.read (a service app not granted
// it still polls; its members are then known from the membership events only, which is
// logged once an hour).
func addGroupSync(cfg config.Config, st *store.Store, log *zap.Logger) error {
	creds, err := pollerCredentials(cfg.SystemLog, cfg.DataDir, "okta.groups.read")
	if err != nil {
		return err
	}
	client := &okta.Client{OrgURL: cfg.SystemLog.OrgURL, Credentials: creds}
	warnings := &rate.Sometimes{Interval: time.Hour}
	st.AddPeriodic(store.Periodic{Name: "group_members", Interval: cfg.SystemLog.PollInterval,
		Run: groupSyncTask(st, client, func(err error) {
			warnings.Do(func() {
				log.Warn("group members not read from Okta; membership events still count", zap.Error(err))
			})
		})})
	return nil
}

// readGroupMembers reads the members of role-holding groups for holders import and
// snapshot, with a credential asking for okta.groups.read: what it cannot read is said on
// standard error and changes nothing else the command does.
func (m *Main) readGroupMembers(ctx context.Context, cfg config.Config, st *store.Store) {
	creds, err := pollerCredentials(cfg.SystemLog, cfg.DataDir, "okta.groups.read")
	if err == nil {
		err = syncGroups(ctx, st, &okta.Client{OrgURL: cfg.SystemLog.OrgURL, Credentials: creds}, m.Stderr)
	}
	if err != nil {
		fmt.Fprintf(m.Stderr, "group members not read from Okta (membership events still count): %s\n", termtext.Escape(err.Error()))
	}
}
