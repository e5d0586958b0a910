# Sourced by drain.sh and accept.sh: what both need to run hookd against hookd-load on a fresh
# store, and to leave nothing behind.
#
# Settings (environment):
#   BENCH_BIN       where the binaries go (default /tmp/hookd-bench-bin)
#   BENCH_NOBUILD=1 use the binaries already in BENCH_BIN
#   BENCH_PORT      hookd's listener port (default 18080); admin is +1000, receivers +1018, +1019
#   BENCH_PG        Postgres base URL (default postgres://postgres@127.0.0.1:5432)
#   BENCH_PGPARAMS  more URL parameters for hookd's Postgres connections
#   BENCH_KEEP=1    keep the temp dir (hookd's log) after the run
#   HOOKD_*         passed on to hookd
set -euo pipefail
export GOTOOLCHAIN=go1.27.3
cd "$(dirname "${BASH_SOURCE[0]}")/../.."

# bench_init takes the store (sqlite or postgres) as $1, builds the binaries, makes the temp dir
# with an Okta secret in it, and sets the addresses; cleanup runs at exit.
bench_init() {
	store=${1:-sqlite}
	case $store in sqlite | postgres) ;; *)
		echo "usage: $0 [sqlite|postgres] [hookd-load flags...]" >&2
		exit 2
		;;
	esac
	bin=${BENCH_BIN:-/tmp/hookd-bench-bin}
	mkdir -p "$bin"
	if [[ -z ${BENCH_NOBUILD:-} ]]; then
		go build -o "$bin/hookd" ./cmd/hookd
		go build -o "$bin/hookd-load" ./cmd/hookd-load
	fi
	port=${BENCH_PORT:-18080}
	listen=127.0.0.1:$port
	admin=127.0.0.1:$((port + 1000))
	webhook=127.0.0.1:$((port + 1018))
	slack=127.0.0.1:$((port + 1019))
	tmp=$(mktemp -d /tmp/hookd-bench.XXXXXX)
	okta_secret="bench-$(head -c 12 /dev/urandom | base64 | tr -dc 'A-Za-z0-9')"
	printf '%s' "$okta_secret" >"$tmp/okta-secret"
	db=""
	pid=""
	trap cleanup EXIT
}

# stop_pid stops the process $pid started, if it runs.
stop_pid() {
	if [[ -n $pid ]] && kill -0 "$pid" 2>/dev/null; then
		kill -TERM "$pid"
		for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
		kill -0 "$pid" 2>/dev/null && kill -KILL "$pid"
		wait "$pid" 2>/dev/null || true
	fi
	pid=""
}

cleanup() {
	stop_pid
	if [[ -n $db ]]; then
		dropdb -h 127.0.0.1 -U postgres --if-exists --force "$db" || true
	fi
	if [[ -n ${BENCH_KEEP:-} ]]; then
		echo "kept $tmp" >&2
	else
		rm -rf "$tmp"
	fi
}

# start_hookd starts `hookd serve` on the store with the HOOKD_* settings given as arguments
# and waits until it answers.
start_hookd() {
	local env_store=()
	if [[ $store == postgres ]]; then
		db=hookdbench_$$
		createdb -h 127.0.0.1 -U postgres "$db"
		env_store=("HOOKD_DATABASE_URL=${BENCH_PG:-postgres://postgres@127.0.0.1:5432}/$db?sslmode=disable${BENCH_PGPARAMS:+&$BENCH_PGPARAMS}")
	fi
	env "${env_store[@]}" HOOKD_LISTEN_ADDR="$listen" HOOKD_ADMIN_ADDR="$admin" HOOKD_DATA_DIR="$tmp/data" \
		HOOKD_OKTA_SECRETS="$okta_secret" "$@" "$bin/hookd" serve >"$tmp/hookd.out" 2>"$tmp/hookd.log" &
	pid=$!
	wait_up || { echo "hookd did not start:" >&2; tail -20 "$tmp/hookd.log" >&2; exit 1; }
}

# wait_up waits until something answers on $listen and $pid still runs.
wait_up() {
	for _ in $(seq 200); do
		kill -0 "$pid" 2>/dev/null || return 1
		curl -s -o /dev/null "http://$listen/healthz" && return 0
		sleep 0.05
	done
	return 1
}

# build_label is the commit the binaries were built from, +changes when the tree differs.
build_label() {
	echo "$(git rev-parse --short HEAD)$(git diff --quiet HEAD -- || echo '+changes')"
}
