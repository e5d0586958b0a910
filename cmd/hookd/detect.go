package main

import (
	"strings"
	"time"
	// The container has no zoneinfo; off-hours needs the team's time zone.
	_ "time/tzdata"

	"github.com/hookd/hookd/config"
	"github.com/hookd/hookd/detect"
)

// detectSettings turns the validated detections configuration into detect's settings (nil
// when every detection is off).
func detectSettings(c config.Detections) *detect.Settings {
	s := detect.Settings{
		SelfGrant: c.SelfGrant, ShortLived: c.ShortLived, FreshGranter: c.FreshGranter,
		NewNetwork: c.NewNetwork, NewNetworkHistory: c.NewNetworkHistory,
		BurstSubjects: c.BurstSubjects, BurstWindow: c.BurstWindow,
	}
	if o := c.OffHours; o.TimeZone != "" {
		loc, _ := time.LoadLocation(o.TimeZone)
		start, _ := config.ClockTime(o.Start)
		end, _ := config.ClockTime(o.End)
		h := &detect.Hours{Location: loc, Start: start, End: end}
		for _, d := range o.Days {
			h.Days[config.Weekdays[strings.ToLower(strings.TrimSpace(d))]] = true
		}
		s.OffHours = h
	}
	if !s.Any() {
		return nil
	}
	return &s
}
