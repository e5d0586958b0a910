package hook

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/hookd/hookd"
)

// BenchmarkDecodeClassify measures decode + classify of the 50-event mixed batch against a
// baseline that only decodes the same bytes into map[string]any, in the same run.
func BenchmarkDecodeClassify(b *testing.B) {
	body, err := os.ReadFile(filepath.Join(payloadDir, "mixed-batch-50.json"))
	if err != nil {
		b.Fatal(err)
	}
	const events = 50
	var c Classifier

	b.Run("hookd", func(b *testing.B) {
		b.SetBytes(int64(len(body)))
		b.ReportAllocs()
		for b.Loop() {
			batch, err := DecodeBytes(body)
			if err != nil {
				b.Fatal(err)
			}
			changes, notWatched := c.RoleChanges(batch, hookd.SourceHook)
			if len(changes)+notWatched != events {
				b.Fatalf("got %d records and %d not watched", len(changes), notWatched)
			}
		}
		perEvent(b, events)
	})

	b.Run("watched-only", func(b *testing.B) {
		// Only the watched events, each decoded whole and classified: the cost of an event hookd
		// keeps, beyond the head check that every event gets.
		batch, err := DecodeBytes(body)
		if err != nil {
			b.Fatal(err)
		}
		var keep []Event
		for _, ev := range batch.Events {
			if _, ok := c.Classify(ev, batch.Org, hookd.SourceHook); ok {
				keep = append(keep, ev)
			}
		}
		size := 0
		for _, ev := range keep {
			size += len(ev.Raw)
		}
		b.SetBytes(int64(size))
		b.ReportAllocs()
		for b.Loop() {
			for _, ev := range keep {
				if _, ok := c.Classify(ev, batch.Org, hookd.SourceHook); !ok {
					b.Fatal("not classified")
				}
			}
		}
		perEvent(b, len(keep))
	})

	b.Run("map-baseline", func(b *testing.B) {
		b.SetBytes(int64(len(body)))
		b.ReportAllocs()
		for b.Loop() {
			var m map[string]any
			if err := json.Unmarshal(body, &m); err != nil {
				b.Fatal(err)
			}
		}
		perEvent(b, events)
	})
}

func perEvent(b *testing.B, events int) {
	b.StopTimer()
	n := float64(b.N) * float64(events)
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/n, "ns/event")
}
