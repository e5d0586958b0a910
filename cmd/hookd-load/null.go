package main

import (
	"crypto/subtle"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/signal"
	"sync/atomic"
	"syscall"
	"time"
)

// nullHandler is the least a receiver of Okta's deliveries does: it checks the auth header,
// reads the body and answers. Driven by the same load as hookd, on the same machine, its
// latencies are the floor of the measurement: the load tool's own work and the machine's
// scheduling, with no receiver work to speak of.
func nullHandler(header, secret string, n *atomic.Int64) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost || subtle.ConstantTimeCompare([]byte(r.Header.Get(header)), []byte(secret)) != 1 {
			http.Error(w, "unauthorized", http.StatusUnauthorized)
			return
		}
		if _, err := io.Copy(io.Discard, r.Body); err != nil {
			http.Error(w, "read: "+err.Error(), http.StatusBadRequest)
			return
		}
		n.Add(1)
		w.WriteHeader(http.StatusOK)
	})
}

// serveNull runs nullHandler on addr until SIGINT or SIGTERM, then says how many deliveries
// it took.
func serveNull(addr, header, secret string) error {
	var n atomic.Int64
	srv := &http.Server{Addr: addr, ReadHeaderTimeout: 5 * time.Second, Handler: nullHandler(header, secret, &n)}
	done := make(chan error, 1)
	go func() { done <- srv.ListenAndServe() }()
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM)
	select {
	case err := <-done:
		return err
	case <-sig:
	}
	_ = srv.Close()
	fmt.Printf("null receiver took %d deliveries\n", n.Load())
	return nil
}
