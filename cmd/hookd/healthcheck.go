package main

import (
	"context"
	"fmt"
	"net/http"
	"time"
)

// healthcheck asks the local hookd's /healthz and fails unless it answers 200: the image has
// no shell or curl, so the container health check runs hookd itself.
func (m *Main) healthcheck(ctx context.Context, args []string) error {
	cfg, _, err := m.loadConfig(args, "healthcheck")
	if err != nil {
		return err
	}
	url := "http://" + loopbackOf(cfg.ListenAddr) + "/healthz"
	ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("%s: %w", url, err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s answered %d", url, resp.StatusCode)
	}
	fmt.Fprintln(m.Stdout, "ok")
	return nil
}
