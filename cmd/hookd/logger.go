package main

import (
	"context"
	"io"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/hookd/hookd/config"
	"go.uber.org/zap"
	"go.uber.org/zap/exp/zapslog"
	"go.uber.org/zap/zapcore"
)

// newLogger writes hookd's own logs to w (standard error): JSON for collectors, or console.
func newLogger(c config.Log, w io.Writer) *zap.Logger {
	level, err := zapcore.ParseLevel(c.Level)
	if err != nil {
		level = zapcore.InfoLevel
	}
	encCfg := zap.NewProductionEncoderConfig()
	encCfg.TimeKey = "time"
	encCfg.EncodeTime = zapcore.ISO8601TimeEncoder
	var enc zapcore.Encoder
	if c.Format == "text" || c.Format == "console" {
		enc = zapcore.NewConsoleEncoder(encCfg)
	} else {
		enc = zapcore.NewJSONEncoder(encCfg)
	}
	return zap.New(zapcore.NewCore(enc, zapcore.Lock(zapcore.AddSync(w)), level))
}

// storeLogger gives the store (its delivery queue and leader) the same log stream, from
// warnings up. During a database outage the queue meets the same error at every poll, so
// each message is written at most once a minute, and a line once a minute says how many were
// left out. The summaries stop with ctx.
func storeLogger(ctx context.Context, log *zap.Logger) *slog.Logger {
	core, _ := zapcore.NewIncreaseLevelCore(log.Core(), zapcore.WarnLevel)
	if core == nil {
		core = log.Core()
	}
	var dropped atomic.Int64
	sampled := zapcore.NewSamplerWithOptions(core, time.Minute, 1, 0,
		zapcore.SamplerHook(func(_ zapcore.Entry, d zapcore.SamplingDecision) {
			if d&zapcore.LogDropped != 0 {
				dropped.Add(1)
			}
		}))
	go func() {
		t := time.NewTicker(time.Minute)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				if n := dropped.Swap(0); n > 0 {
					log.Named("store").Warn("repeated store log lines left out in the last minute", zap.Int64("lines", n))
				}
			}
		}
	}()
	return slog.New(zapslog.NewHandler(sampled, zapslog.WithName("store")))
}
