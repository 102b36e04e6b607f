#!/usr/bin/env bash
# Users-screen throughput and latency: page 1, a deep page, a common search, a rare search,
# a search that matches nothing.
#
#   bench/users.sh                                              # SQLite, 100k members
#   DATABASE_URL=postgres://postgres@127.0.0.1:5432 bench/users.sh   # PostgreSQL
#   MEMBERS=20000 DURATION=5s bench/users.sh                    # quicker
#
# See bench/README.md for what each case measures.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

DEEP_PAGE="${DEEP_PAGE:-1500}"
COMMON_Q="${COMMON_Q:-silva}"
RARE_Q="${RARE_Q:-nakamura14}"   # 6 active members at 100k (nakamura144…149)
NOHIT_Q="${NOHIT_Q:-nakamura12}"  # no seeded address contains it: an empty result

bench_setup

USERS="$BASE/w/$SLUG/users"
cases=(
    "users page 1|$USERS|$((MEMBERS / 2))|page 1 of"
    "users page $DEEP_PAGE|$USERS?page=$DEEP_PAGE|$((MEMBERS / 2))|page $DEEP_PAGE of"
    "search q=$COMMON_Q|$USERS?q=$COMMON_Q|1|"
    "search q=$RARE_Q|$USERS?q=$RARE_Q|1|"
    "search q=$NOHIT_Q (none)|$USERS?q=$NOHIT_Q|0|"
)

# Check every URL once before measuring anything: never benchmark an error page.
for entry in "${cases[@]}"; do
    IFS='|' read -r name url min text <<<"$entry"
    count="$(check_page "$url" "$min" "$text")"
    log "check $name: 200, $count members"
done

log "wrk -t$THREADS -c$CONNECTIONS -d$DURATION per case; raw output in $BENCH_OUT"
results=()
for entry in "${cases[@]}"; do
    IFS='|' read -r name url _ _ <<<"$entry"
    wait_for_quiet
    run_wrk "$(echo "$name" | tr -c 'a-zA-Z0-9\n' '_')" "$url"
    results+=("$(print_row "$name")")
    ((ERRORS == 0)) || log "WARNING: $name had $ERRORS error responses/socket errors (see $BENCH_OUT)"
done

echo
echo "Gatehouse users benchmark — $BACKEND, $MEMBERS members, $(nproc) cores, wrk -t$THREADS -c$CONNECTIONS -d$DURATION"
echo "seed: ${SEED_SECONDS}s wall (${SEED_LINE:-}); database size: ${DB_SIZE:-?}"
print_header
printf '%s\n' "${results[@]}"
echo "server peak RSS (VmHWM): $(server_peak_rss)"
echo "busy% = CPU used by other processes just before the case (wrk itself shares the same cores)"
