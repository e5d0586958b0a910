package main

import (
	"io"
	"log/slog"

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
	if c.Format == "console" {
		enc = zapcore.NewConsoleEncoder(encCfg)
	} else {
		enc = zapcore.NewJSONEncoder(encCfg)
	}
	return zap.New(zapcore.NewCore(enc, zapcore.Lock(zapcore.AddSync(w)), level))
}

// riverLogger gives River the same log stream, from warnings up: its info lines are about
// its own machinery, not about alerts.
func riverLogger(log *zap.Logger) *slog.Logger {
	core, _ := zapcore.NewIncreaseLevelCore(log.Core(), zapcore.WarnLevel)
	if core == nil {
		core = log.Core()
	}
	return slog.New(zapslog.NewHandler(core, zapslog.WithName("river")))
}
