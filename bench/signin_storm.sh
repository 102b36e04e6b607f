#!/usr/bin/env bash
# Do failed sign-ins (argon2 work) starve page loads? Measures users page 1 alone, then
# again while a second wrk hammers POST /login with a wrong password.
#
#   bench/signin_storm.sh
#   DATABASE_URL=postgres://postgres@127.0.0.1:5432 bench/signin_storm.sh
#   STORM_CONNECTIONS=16 bench/signin_storm.sh     # sign-in connections (default 16)
#
# The server throttles an address after 10 failures in 15 minutes but still spends a hash
# on each attempt (the answer stays 422), so the storm keeps costing CPU all the way.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

STORM_CONNECTIONS="${STORM_CONNECTIONS:-16}"
STORM_THREADS="${STORM_THREADS:-1}"

# DURATION (e.g. 15s, 1m) in whole seconds.
duration_seconds() {
    local d="$1"
    case "$d" in
        *ms) echo 1 ;;
        *s) echo "${d%s}" ;;
        *m) echo $(( ${d%m} * 60 )) ;;
        *h) echo $(( ${d%h} * 3600 )) ;;
        *) echo "$d" ;;
    esac
}

bench_setup

USERS="$BASE/w/$SLUG/users"
count="$(check_page "$USERS" 1)"
log "check users page 1: 200, $count members"

# The storm's form: a valid anonymous session and its CSRF token, a wrong password.
bench_anonymous_session
LOGIN_COOKIE="$ANON_COOKIE"
LOGIN_BODY="$(printf 'csrf_token=%s&email=%s&password=%s&next=' "$CSRF" "owner%40bench.example" "definitely-not-the-password")"
export LOGIN_COOKIE LOGIN_BODY
status="$(curl -sS -o /dev/null -w '%{http_code}' -H "Content-Type: application/x-www-form-urlencoded" \
    -H "Cookie: gatehouse_session=$LOGIN_COOKIE" --data "$LOGIN_BODY" "$BASE/login")"
[[ "$status" == 422 ]] || die "a wrong-password POST /login answered $status, expected 422"
log "check wrong-password POST /login: 422"

wait_for_quiet
log "baseline: users page 1 alone (wrk -t$THREADS -c$CONNECTIONS -d$DURATION)"
run_wrk users_baseline "$USERS"
BASE_ROW="$(print_row "users page 1, no storm")"

wait_for_quiet
secs="$(duration_seconds "$DURATION")"
storm_secs=$((secs + 4))
log "storm: wrk -t$STORM_THREADS -c$STORM_CONNECTIONS -d${storm_secs}s POST /login (wrong password)"
wrk -t"$STORM_THREADS" -c"$STORM_CONNECTIONS" -d"${storm_secs}s" --timeout "${WRK_TIMEOUT:-10s}" --latency -s "$BENCH_DIR/login.lua" \
    "$BASE/login" >"$BENCH_OUT/login_storm.txt" 2>&1 &
STORM_PID=$!
sleep 2
log "users page 1 during the storm"
run_wrk users_during_storm "$USERS"
STORM_ROW="$(print_row "users page 1, during storm")"
wait "$STORM_PID" || { cat "$BENCH_OUT/login_storm.txt" >&2; die "storm wrk failed"; }

# The storm's own figures: every answer must be the 422 of a checked password.
parse_wrk "$BENCH_OUT/login_storm.txt"
LOGIN_STATUSES="$(grep '^status ' "$BENCH_OUT/login_storm.txt" | sort | paste -sd, - | sed 's/,/, /g')"
non422="$(awk '/^status / && $2 != "422:" { n += $3 } END { print n + 0 }' "$BENCH_OUT/login_storm.txt")"
ERRORS="$non422"   # 422 is the expected answer here; count only the others
STORM_ROW_LOGIN="$(print_row "POST /login (wrong pw)")"

echo
echo "Gatehouse sign-in storm — $BACKEND, $MEMBERS members, $(nproc) cores"
echo "pages: wrk -t$THREADS -c$CONNECTIONS -d$DURATION; storm: wrk -t$STORM_THREADS -c$STORM_CONNECTIONS POST /login"
echo "seed: ${SEED_SECONDS}s wall (${SEED_LINE:-})"
print_header
echo "$BASE_ROW"
echo "$STORM_ROW"
echo "$STORM_ROW_LOGIN"
echo "sign-in answers during the storm: ${LOGIN_STATUSES:-none}"
echo "server peak RSS (VmHWM): $(server_peak_rss)"
echo "busy% = CPU used by other processes just before the case (wrk itself shares the same cores)"
if ((non422 > 0)); then
    die "$non422 sign-in answers were not 422: the storm did not measure password checks"
fi
