package store

import (
	"context"
	"fmt"
	"os"
	"sort"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hookd/hookd"
	"github.com/hookd/hookd/hook"
	"github.com/hookd/hookd/internal/oktagen"
	"github.com/hookd/hookd/store/storetest"
)

// BenchmarkAccept measures durable acceptance of 10-event batches from 100 concurrent
// callers (the shape of the acknowledge target), per backend: ns/op is one batch.
func BenchmarkAccept(b *testing.B) {
	tmpl := sampleRecord(b)
	benchAccept(b, nil, func(id string, _ int) hookd.RoleChange {
		rc := tmpl
		rc.EventID = id
		return rc
	})
}

// BenchmarkAcceptMemberships is BenchmarkAccept with half of each request's records memberships
// of a group that holds a Workflows role: what the store adds to read the group's roles, write
// the membership and resolve the record, in the same transaction.
func BenchmarkAcceptMemberships(b *testing.B) {
	tmpl := sampleRecord(b)
	grant := groupGrant("bench-group-grant", "00gBench", "Connection Manager", time.Now().Add(-time.Hour), false)
	benchAccept(b, func(s *Store) error {
		_, err := s.Accept(context.Background(), []hookd.RoleChange{grant})
		return err
	}, func(id string, i int) hookd.RoleChange {
		if i%2 == 0 {
			rc := tmpl
			rc.EventID = id
			return rc
		}
		return joins(id, "00u"+id, "00gBench", "00uAdmin", time.Now(), false)
	})
}

func sampleRecord(b *testing.B) hookd.RoleChange {
	raw, err := os.ReadFile("../testdata/payloads/workflows-user-role-add.json")
	if err != nil {
		b.Fatal(err)
	}
	batch, err := hook.DecodeBytes(raw)
	if err != nil {
		b.Fatal(err)
	}
	var c hook.Classifier
	tmpl, _ := c.RoleChanges(batch, hookd.SourceHook)
	return tmpl[0]
}

// benchAccept measures requests of ten records from 100 concurrent callers on each store,
// after prepare: ns/op is a request, with its p50 and p99 and events a second.
func benchAccept(b *testing.B, prepare func(*Store) error, record func(id string, i int) hookd.RoleChange) {
	benchStores(b, func(b *testing.B, s *Store) {
		if prepare != nil {
			if err := prepare(s); err != nil {
				b.Fatal(err)
			}
		}
		var seq atomic.Int64
		lat := make(chan time.Duration, 1<<20)
		b.SetParallelism(50) // 2 cores x 50 = 100 concurrent callers
		b.ReportAllocs()
		b.ResetTimer()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				records := make([]hookd.RoleChange, 10)
				for i := range records {
					records[i] = record(fmt.Sprintf("bench-%d", seq.Add(1)), i)
				}
				began := time.Now()
				if _, err := s.Accept(context.Background(), records); err != nil {
					b.Error(err)
					return
				}
				select {
				case lat <- time.Since(began):
				default:
				}
			}
		})
		b.StopTimer()
		close(lat)
		var all []time.Duration
		for d := range lat {
			all = append(all, d)
		}
		sort.Slice(all, func(i, j int) bool { return all[i] < all[j] })
		if len(all) > 0 {
			b.ReportMetric(float64(all[len(all)*99/100].Microseconds())/1000, "p99-ms")
			b.ReportMetric(float64(all[len(all)/2].Microseconds())/1000, "p50-ms")
		}
		b.ReportMetric(float64(b.N*10)/b.Elapsed().Seconds(), "events/s")
	})
}

// benchStores runs bench on a fresh store (console sink) of each backend: SQLite, and
// Postgres when HOOKD_TEST_DATABASE_URL is set.
func benchStores(b *testing.B, bench func(*testing.B, *Store)) {
	targets := map[string]Options{"sqlite": {DataDir: b.TempDir()}}
	if url := os.Getenv("HOOKD_TEST_DATABASE_URL"); url != "" {
		targets["postgres"] = Options{DatabaseURL: storetest.FreshSchema(b, url)}
	}
	for _, name := range []string{"sqlite", "postgres"} {
		o, ok := targets[name]
		if !ok {
			continue
		}
		b.Run(name, func(b *testing.B) {
			o.Sinks = []string{"console"}
			s, err := Open(context.Background(), o)
			if err != nil {
				b.Fatal(err)
			}
			defer s.Close()
			bench(b, s)
		})
	}
}

// BenchmarkAcceptLarge measures one delivery at the body limit (the hostile corpus's 9 MiB of
// about 5,900 watched role changes, each actor and subject new) accepted as one request:
// ns/op is the time Okta waits for its answer, less decoding.
func BenchmarkAcceptLarge(b *testing.B) {
	const events = 5900
	var c hook.Classifier
	delivery := func() []hookd.RoleChange {
		evs := make([][]byte, events)
		now := time.Now()
		for i := range evs {
			evs[i] = oktagen.Event{}.JSON(now)
		}
		batch, err := hook.DecodeBytes(oktagen.Delivery(evs...))
		if err != nil {
			b.Fatal(err)
		}
		rcs, _ := c.RoleChanges(batch, hookd.SourceHook)
		if len(rcs) != events {
			b.Fatalf("%d role changes, want %d", len(rcs), events)
		}
		return rcs
	}
	benchStores(b, func(b *testing.B, s *Store) {
		b.ReportAllocs()
		for b.Loop() {
			b.StopTimer()
			rcs := delivery()
			b.StartTimer()
			res, err := s.Accept(context.Background(), rcs)
			if err != nil || res.Accepted != events {
				b.Fatalf("accepted %d of %d: %v", res.Accepted, events, err)
			}
		}
	})
}
