#!/usr/bin/env bash
# cmd/hookd-load/drain.sh [sqlite|postgres] [extra hookd-load flags...]
#
# The drain: `hookd serve` on a fresh store (a temp SQLite data dir, or a fresh Postgres
# database dropped afterwards) with its webhook sink pointed at hookd-load's signed receiver;
# 2,000 deliveries of 10 events, 3 watched, 100 in flight; prints acceptance and how long the
# role changes took to reach the receiver. Settings: see bench.sh; HOOKD_* go to hookd (e.g.
# HOOKD_GROUP_WINDOW=0s).
source "$(dirname "$0")/bench.sh"
bench_init "${1:-sqlite}"
shift || true
webhook_secret="whsec_$(head -c 32 /dev/urandom | base64 -w0)"
printf '%s' "$webhook_secret" >"$tmp/webhook-secret"
start_hookd HOOKD_WEBHOOK_URL="http://$webhook/" HOOKD_WEBHOOK_SECRET="$webhook_secret"
echo "store: $store, hookd pid $pid, $(build_label)"
"$bin/hookd-load" --url "http://$listen/okta/events" --secret-file "$tmp/okta-secret" \
	--requests 2000 --events 10 --watched 3 --concurrency 100 --duration 60s \
	--webhook-addr "$webhook" --webhook-secret-file "$tmp/webhook-secret" --drain-timeout 3m \
	--pid "$pid" "$@"
