package main

import (
	"fmt"
	"github.com/hookd/hookd/okta"
	"golang.org/x/time/rate"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/hookd/hookd/config"
	"github.com/hookd/hookd/systemlog"
	"go.uber.org/zap"
)

// dpopKeyFile is where a service app's DPoP key is kept in the data dir unless
// HOOKD_OKTA_DPOP_KEY_FILE names another path: made on the first token request, never
// overwritten, distinct from the app's client-assertion key.
const dpopKeyFile = "okta-dpop-key.pem"

// pollerCredentials builds the System Log credentials: an API token, or a service app asking
// for scopes (default okta.logs.read) that proves its tokens with the DPoP key at
// HOOKD_OKTA_DPOP_KEY_FILE, or in dataDir.
func pollerCredentials(c config.SystemLog, dataDir string, scopes ...string) (okta.Credentials, error) {
	if c.APIToken != "" {
		return okta.APIToken(c.APIToken), nil
	}
	pemBytes, err := os.ReadFile(c.PrivateKeyFile)
	if err != nil {
		return nil, fmt.Errorf("HOOKD_OKTA_PRIVATE_KEY_FILE: cannot read %s", c.PrivateKeyFile)
	}
	key, err := okta.ParsePrivateKey(pemBytes)
	if err != nil {
		return nil, fmt.Errorf("HOOKD_OKTA_PRIVATE_KEY_FILE: %w", err)
	}
	org, err := url.Parse(strings.TrimRight(c.OrgURL, "/"))
	if err != nil {
		return nil, fmt.Errorf("HOOKD_OKTA_ORG_URL: %w", err)
	}
	return &okta.ServiceApp{
		TokenURL: org.Scheme + "://" + org.Host + "/oauth2/v1/token",
		ClientID: c.ClientID, Key: key, KeyID: c.PrivateKeyID, Scopes: scopes,
		DPoPKeyFile: dpopKeyPath(c, dataDir),
	}, nil
}

// dpopKeyPath is where the service app's DPoP key is kept: HOOKD_OKTA_DPOP_KEY_FILE, else
// the data dir's.
func dpopKeyPath(c config.SystemLog, dataDir string) string {
	if c.DPoPKeyFile != "" {
		return c.DPoPKeyFile
	}
	return filepath.Join(dataDir, dpopKeyFile)
}

// pollLog logs poll cycles, and at most once an hour the events Okta did not deliver by
// hook: each means hook deliveries are failing or late, which the operator must hear of but
// not once per event.
type pollLog struct {
	log    *zap.Logger
	every  rate.Sometimes
	mu     sync.Mutex
	missed map[string]int
}

func newPollLog(log *zap.Logger) *pollLog {
	return &pollLog{log: log, every: rate.Sometimes{Interval: time.Hour}, missed: map[string]int{}}
}

func (l *pollLog) observe(r systemlog.Report) {
	logPoll(l.log, r)
	if len(r.MissedByHook) == 0 {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	for t, n := range r.MissedByHook {
		l.missed[t] += n
	}
	l.every.Do(func() {
		total := 0
		for _, n := range l.missed {
			total += n
		}
		l.log.Warn(fmt.Sprintf("Okta did not deliver %d events by hook (the System Log brought them first); check the hook with hookd okta status", total),
			zap.Any("by_event_type", l.missed))
		l.missed = map[string]int{}
	})
}

// logPoll logs a poll cycle: refused credentials once, at error level (later cycles do not
// poll); failures as warnings; the rest quietly.
func logPoll(log *zap.Logger, r systemlog.Report) {
	fields := []zap.Field{zap.String("result", r.Result), zap.Int("pages", r.Pages), zap.Int("events", r.Events),
		zap.Int("accepted", r.Accepted), zap.Int("rate_limit_remaining", r.RateLimitRemaining)}
	if r.Err != nil {
		fields = append(fields, zap.String("error", r.Err.Error()))
	}
	if !r.Until.IsZero() {
		fields = append(fields, zap.Time("until", r.Until))
	}
	switch r.Result {
	case systemlog.ResultUnauthorized:
		log.Error("System Log polling stopped: Okta refused the credentials", fields...)
	case systemlog.ResultError:
		log.Warn("System Log poll failed; backing off", fields...)
	case systemlog.ResultRateLimited:
		log.Info("System Log poll paused for Okta's rate limit", fields...)
	case systemlog.ResultOK:
		if r.Accepted > 0 {
			log.Info("System Log poll", fields...)
		} else {
			log.Debug("System Log poll", fields...)
		}
	default:
		log.Debug("System Log poll skipped", fields...)
	}
	if r.Rejected > 0 {
		log.Warn("System Log events rejected; the rest were kept", zap.Int("rejected", r.Rejected))
	}
}
