#!/usr/bin/env bash
# cmd/hookd-load/accept.sh [sqlite|postgres] [extra hookd-load flags...]
#
# Acceptance against its floor, in one run: the same closed loop (100 deliveries in flight,
# 10 watched events each, 10 s) first against hookd-load's null receiver (the least receiver
# there is: it checks the header and reads the body), then against `hookd serve` on a fresh
# store (a temp SQLite data dir, or a fresh Postgres database dropped afterwards) whose Slack
# sink is hookd-load's fake Slack answering in 2.5 s. Prints both runs' throughput and latency.
#
# Settings (environment): ACCEPT_BIN (default /tmp/hookd-accept-bin), ACCEPT_PORT (18180;
# admin +1000, fake Slack +1019), ACCEPT_NOBUILD=1, ACCEPT_DURATION (10s); HOOKD_* go to hookd.
set -euo pipefail
export GOTOOLCHAIN=go1.27.3
cd "$(dirname "$0")/../.."

store=${1:-sqlite}
shift || true
case $store in sqlite | postgres) ;; *)
	echo "usage: $0 [sqlite|postgres] [hookd-load flags...]" >&2
	exit 2
	;;
esac
bin=${ACCEPT_BIN:-/tmp/hookd-accept-bin}
mkdir -p "$bin"
if [[ -z ${ACCEPT_NOBUILD:-} ]]; then
	go build -o "$bin/hookd" ./cmd/hookd
	go build -o "$bin/hookd-load" ./cmd/hookd-load
fi
port=${ACCEPT_PORT:-18180}
listen=127.0.0.1:$port
admin=127.0.0.1:$((port + 1000))
slack=127.0.0.1:$((port + 1019))
duration=${ACCEPT_DURATION:-10s}
tmp=$(mktemp -d /tmp/hookd-accept.XXXXXX)
secret="accept-$(head -c 12 /dev/urandom | base64 | tr -dc 'A-Za-z0-9')"
printf '%s' "$secret" >"$tmp/okta-secret"
db=""
pid=""
cleanup() {
	for p in $pid; do
		kill -TERM "$p" 2>/dev/null || true
		wait "$p" 2>/dev/null || true
	done
	[[ -n $db ]] && dropdb -h 127.0.0.1 -U postgres --if-exists --force "$db"
	rm -rf "$tmp"
}
trap cleanup EXIT
wait_up() {
	for _ in $(seq 200); do
		curl -s -o /dev/null "http://$listen/healthz" && return 0
		sleep 0.05
	done
	echo "nothing answers on $listen" >&2
	exit 1
}
load=("$bin/hookd-load" --url "http://$listen/okta/events" --secret-file "$tmp/okta-secret"
	--concurrency 100 --events 10 --duration "$duration")

"$bin/hookd-load" --null-receiver "$listen" --secret-file "$tmp/okta-secret" &
pid=$!
wait_up
echo "== null receiver"
"${load[@]}" "$@"
kill -TERM "$pid"
wait "$pid" 2>/dev/null || true
pid=""

env_store=()
if [[ $store == postgres ]]; then
	db=acceptbench_$$
	createdb -h 127.0.0.1 -U postgres "$db"
	env_store=("HOOKD_DATABASE_URL=postgres://postgres@127.0.0.1:5432/$db?sslmode=disable")
fi
env "${env_store[@]}" HOOKD_LISTEN_ADDR="$listen" HOOKD_ADMIN_ADDR="$admin" HOOKD_DATA_DIR="$tmp/data" \
	HOOKD_OKTA_SECRETS="$secret" HOOKD_SLACK_WEBHOOK_URL="http://$slack/services/T0/B0/ACCEPT" \
	"$bin/hookd" serve >/dev/null 2>"$tmp/hookd.log" &
pid=$!
wait_up
echo "== hookd on $store, $(git rev-parse --short HEAD)$(git diff --quiet HEAD -- || echo '+changes'), Slack answering in 2.5 s"
"${load[@]}" --sink-addr "$slack" --sink-delay 2.5s --pid "$pid" "$@"
