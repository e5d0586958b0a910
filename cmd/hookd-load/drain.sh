#!/usr/bin/env bash
# cmd/hookd-load/drain.sh [sqlite|postgres] [extra hookd-load flags...]
#
# Builds hookd and hookd-load from this tree, starts `hookd serve` on a fresh store (a temp
# SQLite data dir, or a fresh Postgres database at 127.0.0.1:5432 dropped afterwards) with
# its webhook sink pointed at hookd-load's signed receiver, runs the drain case
# (2,000 deliveries of 10 events, 3 watched, 100 in flight) and stops hookd.
#
# Settings (environment):
#   DRAIN_BIN       where the binaries go (default /tmp/hookd-drain-bin)
#   DRAIN_PORT      hookd's listener port (default 18080); admin is +1000, webhook +1018
#   DRAIN_PG        Postgres base URL (default postgres://postgres@127.0.0.1:5432)
#   DRAIN_PGPARAMS  more URL parameters for hookd's Postgres connections (e.g. synchronous_commit=off)
#   DRAIN_KEEP=1    keep the temp dir (hookd's log) after the run
#   DRAIN_NOBUILD=1 use the binaries already in DRAIN_BIN
#   HOOKD_*         passed on to hookd (e.g. HOOKD_DELIVERY_WORKERS, HOOKD_GROUP_WINDOW)
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

bin=${DRAIN_BIN:-/tmp/hookd-drain-bin}
mkdir -p "$bin"
if [[ -z ${DRAIN_NOBUILD:-} ]]; then
	go build -o "$bin/hookd" ./cmd/hookd
	go build -o "$bin/hookd-load" ./cmd/hookd-load
fi

port=${DRAIN_PORT:-18080}
listen=127.0.0.1:$port
admin=127.0.0.1:$((port + 1000))
webhook=127.0.0.1:$((port + 1018))
tmp=$(mktemp -d /tmp/hookd-drain.XXXXXX)
okta_secret="drain-$(head -c 12 /dev/urandom | base64 | tr -dc 'A-Za-z0-9')"
webhook_secret="whsec_$(head -c 32 /dev/urandom | base64 -w0)"
printf '%s' "$okta_secret" >"$tmp/okta-secret"
printf '%s' "$webhook_secret" >"$tmp/webhook-secret"

db=""
pid=""
cleanup() {
	if [[ -n $pid ]] && kill -0 "$pid" 2>/dev/null; then
		kill -TERM "$pid"
		for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
		kill -0 "$pid" 2>/dev/null && kill -KILL "$pid"
		wait "$pid" 2>/dev/null || true
	fi
	if [[ -n $db ]]; then
		dropdb -h 127.0.0.1 -U postgres --if-exists --force "$db" || true
	fi
	if [[ -n ${DRAIN_KEEP:-} ]]; then
		echo "kept $tmp" >&2
	else
		rm -rf "$tmp"
	fi
}
trap cleanup EXIT

env_store=()
if [[ $store == postgres ]]; then
	db=drainbench_$$
	createdb -h 127.0.0.1 -U postgres "$db"
	env_store=("HOOKD_DATABASE_URL=${DRAIN_PG:-postgres://postgres@127.0.0.1:5432}/$db?sslmode=disable${DRAIN_PGPARAMS:+&$DRAIN_PGPARAMS}")
fi

env "${env_store[@]}" \
	HOOKD_LISTEN_ADDR="$listen" HOOKD_ADMIN_ADDR="$admin" HOOKD_DATA_DIR="$tmp/data" \
	HOOKD_OKTA_SECRETS="$okta_secret" \
	HOOKD_WEBHOOK_URL="http://$webhook/" HOOKD_WEBHOOK_SECRET="$webhook_secret" \
	"$bin/hookd" serve >"$tmp/hookd.out" 2>"$tmp/hookd.log" &
pid=$!

for _ in $(seq 200); do
	curl -fs "http://$listen/healthz" >/dev/null 2>&1 && break
	kill -0 "$pid" 2>/dev/null || { echo "hookd exited at start:" >&2; tail -20 "$tmp/hookd.log" >&2; exit 1; }
	sleep 0.05
done

echo "store: $store, hookd pid $pid, $(git rev-parse --short HEAD)$(git diff --quiet HEAD -- || echo '+changes')"
"$bin/hookd-load" --url "http://$listen/okta/events" --secret-file "$tmp/okta-secret" \
	--requests 2000 --events 10 --watched 3 --concurrency 100 --duration 60s \
	--webhook-addr "$webhook" --webhook-secret-file "$tmp/webhook-secret" --drain-timeout 3m \
	--pid "$pid" "$@"
