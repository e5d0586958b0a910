#!/usr/bin/env bash
# cmd/hookd-load/accept.sh [sqlite|postgres] [extra hookd-load flags...]
#
# Acceptance against its floor, in one run: the same closed loop (100 deliveries in flight,
# 10 watched events each, ACCEPT_DURATION, default 10 s) first against hookd-load's null
# receiver (the least receiver there is: it checks the header and reads the body), then
# against `hookd serve` on a fresh store whose Slack sink is hookd-load's fake Slack answering
# in 2.5 s. Prints both runs' throughput and latency. Settings: see bench.sh.
source "$(dirname "$0")/bench.sh"
bench_init "${1:-sqlite}"
shift || true
load=("$bin/hookd-load" --url "http://$listen/okta/events" --secret-file "$tmp/okta-secret"
	--concurrency 100 --events 10 --duration "${ACCEPT_DURATION:-10s}")

"$bin/hookd-load" --null-receiver "$listen" --secret-file "$tmp/okta-secret" &
pid=$!
wait_up || { echo "the null receiver did not start" >&2; exit 1; }
echo "== null receiver"
"${load[@]}" "$@"
stop_pid

start_hookd HOOKD_SLACK_WEBHOOK_URL="http://$slack/services/T0/B0/ACCEPT"
echo "== hookd on $store, $(build_label), Slack answering in 2.5 s"
"${load[@]}" --sink-addr "$slack" --sink-delay 2.5s --pid "$pid" "$@"
