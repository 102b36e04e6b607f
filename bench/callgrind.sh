#!/usr/bin/env bash
# Instructions per request of the Users cases, counted by callgrind: the server runs under
# valgrind (one worker), each case is requested N times after a warm-up, and the counters
# are zeroed before and dumped after each batch. Unlike wrk figures, the counts do not move
# when other processes load the machine, so small changes show. SQLite only.
#
#   bench/callgrind.sh                      # 100k members, 40 requests per case
#   MEMBERS=20000 REQUESTS=20 bench/callgrind.sh
#   BENCH_BIN=/path/to/gatehouse bench/callgrind.sh
#
# Keeps each case's profile in $BENCH_OUT/<case>.callgrind for `callgrind_annotate`.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

REQUESTS="${REQUESTS:-40}"
DEEP_PAGE="${DEEP_PAGE:-1500}"
COMMON_Q="${COMMON_Q:-silva}"
RARE_Q="${RARE_Q:-nakamura14}"
NOHIT_Q="${NOHIT_Q:-nakamura12}"

command -v valgrind >/dev/null || die "needs valgrind (apt-get install valgrind)"
case "${DATABASE_URL:-sqlite://}" in sqlite://*) ;; *) die "callgrind.sh measures SQLite only" ;; esac

trap bench_cleanup EXIT
trap 'exit 130' INT TERM
BENCH_TMP="$(mktemp -d -t gatehouse-callgrind.XXXXXX)"
BACKEND=sqlite
bench_require_tools
BENCH_OUT="${BENCH_OUT:-$BENCH_DIR/out/$(date +%Y%m%d-%H%M%S)-callgrind}"
mkdir -p "$BENCH_OUT"
bench_build
bench_database
bench_seed

port="$(free_port)"
BASE="http://127.0.0.1:$port"
log "serving under callgrind on $BASE (one worker)"
GATEHOUSE_BIND="127.0.0.1:$port" GATEHOUSE_WORKERS=1 RUST_LOG=warn \
    valgrind --tool=callgrind --callgrind-out-file="$BENCH_TMP/cg.%p" "$BIN" serve \
    >"$BENCH_TMP/server.log" 2>&1 &
SERVER_PID=$!
for _ in $(seq 1 600); do
    kill -0 "$SERVER_PID" 2>/dev/null || die "server exited at start"
    curl -fsS -o /dev/null "$BASE/healthz" 2>/dev/null && break
    sleep 0.2
done
bench_sign_in

USERS="$BASE/w/$SLUG/users"
cases=(
    "page_1|$USERS"
    "page_$DEEP_PAGE|$USERS?page=$DEEP_PAGE"
    "q_$COMMON_Q|$USERS?q=$COMMON_Q"
    "q_$RARE_Q|$USERS?q=$RARE_Q"
    "q_${NOHIT_Q}_none|$USERS?q=$NOHIT_Q"
)

# curl_batch URL N: N requests on one keep-alive connection.
curl_batch() {
    local config="$BENCH_TMP/batch.curl"
    : >"$config"
    for _ in $(seq 1 "$2"); do printf 'url = "%s"\noutput = /dev/null\n' "$1" >>"$config"; done
    curl -fsS -H "Cookie: gatehouse_session=$SESSION" -K "$config" >/dev/null
}

printf '%-24s %18s\n' case "instructions/req"
for entry in "${cases[@]}"; do
    IFS='|' read -r name url <<<"$entry"
    status="$(curl -sS -o /dev/null -w '%{http_code}' -H "Cookie: gatehouse_session=$SESSION" "$url")"
    [[ "$status" == 200 ]] || die "$url answered $status, expected 200"
    curl_batch "$url" 3
    callgrind_control -z "$SERVER_PID" >/dev/null 2>&1
    curl_batch "$url" "$REQUESTS"
    callgrind_control -d "$name" "$SERVER_PID" >/dev/null 2>&1
    dump="$(ls -t "$BENCH_TMP"/cg.* | head -n 1)"
    mv "$dump" "$BENCH_OUT/$name.callgrind"
    total="$(awk '/^(summary|totals):/ { print $2; exit }' "$BENCH_OUT/$name.callgrind")"
    printf '%-24s %18s\n' "$name" "$(awk -v t="$total" -v n="$REQUESTS" 'BEGIN { printf "%.2fM", t / n / 1e6 }')"
done
