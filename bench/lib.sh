# Shared setup for the Gatehouse benchmarks (sourced by users.sh and signin_storm.sh).
#
# Builds the release binary, creates a throw-away database (a SQLite file in a temp dir, or
# a fresh PostgreSQL database when DATABASE_URL=postgres://…), creates the owner, seeds the
# members, starts the server on a free loopback port and signs in. Everything it creates is
# removed by the EXIT trap. Every request goes to 127.0.0.1 only.
#
# Environment:
#   MEMBERS       members to seed (default 100000)
#   DURATION      wrk duration per case (default 15s)
#   CONNECTIONS   wrk connections for page cases (default 32)
#   THREADS       wrk threads (default 2)
#   DATABASE_URL  unset or sqlite://… → a temp SQLite file (the given path is never touched);
#                 postgres://USER@HOST:PORT[/DB] → a throw-away database on that server
#   BENCH_BIN     use this gatehouse binary instead of building (e.g. while src/ is mid-edit)
#   GATEHOUSE_WORKERS  passed through to the server (default: one per core)
#   BENCH_NO_VACUUM=1  PostgreSQL: skip the VACUUM (ANALYZE) after seeding
#   WRK_TIMEOUT   wrk request timeout (default 10s; slower answers count as errors)
#   BENCH_OUT     where raw wrk output is kept (default bench/out/<timestamp>-<backend>)
#   BENCH_QUIET_MAX / BENCH_QUIET_WAIT  before each case, wait up to WAIT seconds (600) for
#                 other processes to use under MAX percent (15) of the CPU

BENCH_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_DIR="$(cd "$BENCH_DIR/.." && pwd)"

MEMBERS="${MEMBERS:-100000}"
DURATION="${DURATION:-15s}"
CONNECTIONS="${CONNECTIONS:-32}"
THREADS="${THREADS:-2}"

OWNER_EMAIL="owner@bench.example"
OWNER_PASSWORD="bench-owner-password-2026"
SLUG="bench"

BENCH_TMP=""
SERVER_PID=""
PG_ADMIN_URL=""
PG_DB=""
BASE=""
SESSION=""
BACKEND=""

log() { printf '[bench %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { printf '[bench] FAILED: %s\n' "$*" >&2; exit 1; }

bench_cleanup() {
    local rc=$?
    set +e
    if [[ -n "$SERVER_PID" ]] && kill -0 "$SERVER_PID" 2>/dev/null; then
        kill "$SERVER_PID" 2>/dev/null
        for _ in $(seq 1 50); do kill -0 "$SERVER_PID" 2>/dev/null || break; sleep 0.1; done
        kill -9 "$SERVER_PID" 2>/dev/null
        wait "$SERVER_PID" 2>/dev/null
    fi
    if [[ -n "$PG_DB" ]]; then
        psql "$PG_ADMIN_URL" -qAtX -v ON_ERROR_STOP=1 -c "DROP DATABASE IF EXISTS \"$PG_DB\" WITH (FORCE)" >/dev/null 2>&1 \
            || log "could not drop database $PG_DB"
    fi
    if [[ -n "$BENCH_TMP" && -d "$BENCH_TMP" ]]; then
        if [[ $rc -ne 0 && -s "$BENCH_TMP/server.log" ]]; then
            log "server log (last 30 lines):"
            tail -n 30 "$BENCH_TMP/server.log" >&2
        fi
        rm -rf "$BENCH_TMP"
    fi
    exit $rc
}

bench_require_tools() {
    local missing=()
    command -v wrk >/dev/null || missing+=(wrk)
    command -v curl >/dev/null || missing+=(curl)
    if [[ "$BACKEND" == postgres ]] && ! command -v psql >/dev/null; then missing+=(postgresql-client); fi
    if ((${#missing[@]})); then
        log "installing ${missing[*]}"
        command -v apt-get >/dev/null || die "missing ${missing[*]} and no apt-get"
        apt-get update -qq >/dev/null
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
    fi
}

# Seconds since the epoch with a fraction.
now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", b - a }'; }

bench_build() {
    if [[ -n "${BENCH_BIN:-}" ]]; then
        [[ -x "$BENCH_BIN" ]] || die "BENCH_BIN=$BENCH_BIN is not an executable"
        log "using BENCH_BIN=$BENCH_BIN (no build)"
        cp "$BENCH_BIN" "$BENCH_TMP/gatehouse"
        BIN="$BENCH_TMP/gatehouse"
        return 0
    fi
    log "cargo build --release (may wait for the cargo lock)"
    (cd "$REPO_DIR" && cargo build --release --quiet --bin gatehouse) || die "cargo build --release failed"
    local target_dir
    target_dir="$(cd "$REPO_DIR" && cargo metadata --format-version 1 --no-deps 2>/dev/null \
        | sed -n 's/.*"target_directory":"\([^"]*\)".*/\1/p')"
    target_dir="${target_dir:-$REPO_DIR/target}"
    [[ -x "$target_dir/release/gatehouse" ]] || die "no binary at $target_dir/release/gatehouse"
    # A private copy: a concurrent build must not swap the binary under a running benchmark.
    cp "$target_dir/release/gatehouse" "$BENCH_TMP/gatehouse"
    BIN="$BENCH_TMP/gatehouse"
}

bench_database() {
    local url="${DATABASE_URL:-sqlite://}"
    case "$url" in
        postgres://* | postgresql://*)
            BACKEND=postgres
            local scheme="${url%%://*}" rest="${url#*://}"
            rest="${rest%%\?*}"
            local authority="${rest%%/*}"
            PG_ADMIN_URL="$scheme://$authority/postgres"
            PG_DB="gh_bench_$$_$RANDOM"
            psql "$PG_ADMIN_URL" -qAtX -v ON_ERROR_STOP=1 -c "CREATE DATABASE \"$PG_DB\"" >/dev/null \
                || { PG_DB=""; die "cannot create a database on $scheme://$authority"; }
            export DATABASE_URL="$scheme://$authority/$PG_DB"
            log "PostgreSQL: throw-away database $PG_DB"
            ;;
        sqlite://*)
            BACKEND=sqlite
            export DATABASE_URL="sqlite://$BENCH_TMP/gatehouse.db"
            log "SQLite: $BENCH_TMP/gatehouse.db"
            ;;
        *) die "DATABASE_URL must be sqlite://… or postgres://…" ;;
    esac
}

bench_seed() {
    log "create-owner"
    printf '%s\n' "$OWNER_PASSWORD" | "$BIN" create-owner --workspace "Bench" --slug "$SLUG" \
        --email "$OWNER_EMAIL" --name "Bench Owner" >"$BENCH_TMP/create-owner.log" 2>&1 \
        || { cat "$BENCH_TMP/create-owner.log" >&2; die "create-owner failed"; }
    log "seeding $MEMBERS members"
    local t0 t1
    t0=$(now)
    "$BIN" seed "$SLUG" --members "$MEMBERS" >"$BENCH_TMP/seed.log" 2>&1 \
        || { cat "$BENCH_TMP/seed.log" >&2; die "seed failed"; }
    t1=$(now)
    SEED_SECONDS=$(elapsed "$t0" "$t1")
    SEED_LINE="$(grep -m1 '^seeded' "$BENCH_TMP/seed.log" || true)"
    log "seed: ${SEED_SECONDS}s wall (${SEED_LINE:-no summary line})"
    if [[ "$BACKEND" == postgres && -z "${BENCH_NO_VACUUM:-}" ]]; then
        # The steady state autovacuum reaches a minute or so after a bulk load (visibility
        # map set, GIN pending list merged); without it the figures depend on whether
        # autovacuum happens to run during a case. BENCH_NO_VACUUM=1 measures the raw state.
        log "VACUUM (ANALYZE) after the bulk load"
        t0=$(now)
        psql "$DATABASE_URL" -qAtX -v ON_ERROR_STOP=1 -c 'VACUUM (ANALYZE)' >/dev/null || die "VACUUM failed"
        t1=$(now)
        VACUUM_SECONDS=$(elapsed "$t0" "$t1")
        SEED_LINE="${SEED_LINE:+$SEED_LINE; }then VACUUM (ANALYZE) ${VACUUM_SECONDS}s"
    fi
    if [[ "$BACKEND" == sqlite ]]; then
        DB_SIZE="$(du -sh "$BENCH_TMP"/gatehouse.db* 2>/dev/null | awk '{print $1}' | paste -sd+ -)"
    else
        DB_SIZE="$(psql "$DATABASE_URL" -qAtX -c 'SELECT pg_size_pretty(pg_database_size(current_database()))')"
    fi
}

free_port() {
    local port
    for _ in $(seq 1 100); do
        port=$((20000 + RANDOM % 40000))
        if ! (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
            echo "$port"
            return 0
        fi
    done
    die "no free port found"
}

bench_serve() {
    local port
    port="$(free_port)"
    BASE="http://127.0.0.1:$port"
    log "serving on $BASE (workers: ${GATEHOUSE_WORKERS:-one per core})"
    GATEHOUSE_BIND="127.0.0.1:$port" RUST_LOG="${RUST_LOG:-warn}" "$BIN" serve >"$BENCH_TMP/server.log" 2>&1 &
    SERVER_PID=$!
    for _ in $(seq 1 200); do
        kill -0 "$SERVER_PID" 2>/dev/null || die "server exited at start"
        if curl -fsS -o /dev/null "$BASE/healthz" 2>/dev/null; then return 0; fi
        sleep 0.1
    done
    die "server did not answer /healthz within 20s"
}

# The value of cookie NAME in a file of response headers.
cookie_from_headers() {
    sed -n "s/^[Ss]et-[Cc]ookie: *$1=\([^;]*\).*/\1/p" "$2" | tr -d '\r' | tail -n 1
}

# An anonymous session with its CSRF token: sets ANON_COOKIE and CSRF.
bench_anonymous_session() {
    local headers="$BENCH_TMP/login-get.headers" body="$BENCH_TMP/login-get.html"
    curl -sS -D "$headers" -o "$body" "$BASE/login" || die "GET /login failed"
    ANON_COOKIE="$(cookie_from_headers gatehouse_session "$headers")"
    CSRF="$(sed -n 's/.*name="csrf_token" value="\([^"]*\)".*/\1/p' "$body" | head -n 1)"
    [[ -n "$ANON_COOKIE" ]] || die "GET /login set no gatehouse_session cookie"
    [[ -n "$CSRF" ]] || die "GET /login has no csrf_token input"
}

# Signs the owner in: sets SESSION (the signed-in gatehouse_session value).
bench_sign_in() {
    bench_anonymous_session
    local headers="$BENCH_TMP/login-post.headers" status
    status="$(curl -sS -o /dev/null -D "$headers" -w '%{http_code}' \
        -H "Cookie: gatehouse_session=$ANON_COOKIE" \
        --data-urlencode "csrf_token=$CSRF" --data-urlencode "email=$OWNER_EMAIL" \
        --data-urlencode "password=$OWNER_PASSWORD" --data-urlencode "next=" \
        "$BASE/login")"
    [[ "$status" == 303 ]] || die "POST /login answered $status, expected 303"
    SESSION="$(cookie_from_headers gatehouse_session "$headers")"
    [[ -n "$SESSION" && "$SESSION" != "$ANON_COOKIE" ]] || die "POST /login did not set a new session cookie"
    log "signed in"
}

# check_page URL MIN_COUNT [TEXT]: one request; fails unless 200, a Users page with a member
# table, a result count of at least MIN_COUNT (0: exactly none) and (if given) TEXT. Prints the result count.
check_page() {
    local url="$1" min="$2" text="${3:-}" body="$BENCH_TMP/check.html" status count
    status="$(curl -sS -o "$body" -w '%{http_code}' -H "Cookie: gatehouse_session=$SESSION" "$url")"
    [[ "$status" == 200 ]] || die "$url answered $status, expected 200"
    grep -q '<h1>Users</h1>' "$body" || die "$url is not the Users page"
    count="$(sed -n 's/.*id="result-count"[^>]*>\([0-9][0-9]*\) member.*/\1/p' "$body" | head -n 1)"
    [[ -n "$count" ]] || die "$url shows no result count"
    if ((min == 0)); then
        # A search expected to match nothing: exactly 0, and the empty-state message.
        ((count == 0)) || die "$url shows $count members, expected none"
        grep -q 'No members match' "$body" || die "$url shows no empty-state message"
    else
        ((count >= min)) || die "$url shows $count members, expected at least $min"
        grep -q 'class="members"' "$body" || die "$url shows no member table"
    fi
    [[ -z "$text" ]] || grep -qF "$text" "$body" || die "$url does not contain \"$text\""
    echo "$count"
}

# Milliseconds from a wrk duration (e.g. 812.00us, 3.41ms, 1.02s, 1.5m).
to_ms() {
    awk -v v="$1" 'BEGIN {
        n = v + 0; u = v; sub(/^[0-9.]+/, "", u);
        if (u == "us") n /= 1000; else if (u == "s") n *= 1000; else if (u == "m") n *= 60000; else if (u == "h") n *= 3600000;
        printf "%.2f", n }'
}

# parse_wrk FILE: sets RPS, P50, P99 (ms), ERRORS (non-2xx/3xx + socket errors), REQS.
parse_wrk() {
    local f="$1"
    RPS="$(awk '/^Requests\/sec:/ { printf "%.0f", $2 }' "$f")"
    P50="$(to_ms "$(awk '$1 == "50%" { print $2 }' "$f")")"
    P99="$(to_ms "$(awk '$1 == "99%" { print $2 }' "$f")")"
    REQS="$(awk '/requests in/ { print $1 }' "$f")"
    local non2xx sock
    non2xx="$(awk '/Non-2xx or 3xx responses:/ { print $NF }' "$f")"
    sock="$(awk '/Socket errors:/ { gsub(",", ""); print $4 + $6 + $8 + $10 }' "$f")"
    ERRORS=$(( ${non2xx:-0} + ${sock:-0} ))
}

# run_wrk NAME URL [extra wrk args…]: runs wrk against URL with the signed-in session,
# keeps the raw output in $BENCH_OUT/NAME.txt, and sets RPS/P50/P99/ERRORS.
run_wrk() {
    local name="$1" url="$2"
    shift 2
    wrk -t"$THREADS" -c"$CONNECTIONS" -d"$DURATION" --timeout "${WRK_TIMEOUT:-10s}" --latency \
        -H "Cookie: gatehouse_session=$SESSION" "$@" "$url" >"$BENCH_OUT/$name.txt" 2>&1 \
        || { cat "$BENCH_OUT/$name.txt" >&2; die "wrk failed for $name"; }
    parse_wrk "$BENCH_OUT/$name.txt"
    [[ -n "$RPS" ]] || { cat "$BENCH_OUT/$name.txt" >&2; die "could not parse wrk output for $name"; }
}

# Percentage of all CPU time busy over the next 2 seconds (the server is idle then, so this
# is other work on the machine: builds, test suites).
cpu_busy_percent() {
    local a b
    a=($(head -n 1 /proc/stat))
    sleep 2
    b=($(head -n 1 /proc/stat))
    awk -v u="$(( (b[1]+b[2]+b[3]+b[6]+b[7]+b[8]) - (a[1]+a[2]+a[3]+a[6]+a[7]+a[8]) ))" \
        -v i="$(( (b[4]+b[5]) - (a[4]+a[5]) ))" 'BEGIN { printf "%.0f", (u + i) ? 100 * u / (u + i) : 0 }'
}

# Waits (up to BENCH_QUIET_WAIT seconds, default 600) until the machine is quiet — other
# processes use under BENCH_QUIET_MAX percent (default 15) of the CPU — so that figures are
# not a measure of someone else's compile. Sets BUSY_BEFORE; proceeds with a warning.
wait_for_quiet() {
    local max="${BENCH_QUIET_MAX:-15}" deadline=$((SECONDS + ${BENCH_QUIET_WAIT:-600}))
    BUSY_BEFORE="$(cpu_busy_percent)"
    while ((BUSY_BEFORE > max)); do
        if ((SECONDS >= deadline)); then
            log "WARNING: the machine is still ${BUSY_BEFORE}% busy with other work; measuring anyway"
            return 0
        fi
        log "machine ${BUSY_BEFORE}% busy with other work; waiting for it to quiet down"
        sleep 8
        BUSY_BEFORE="$(cpu_busy_percent)"
    done
}

# busy%: other work on the machine just before the case (see wait_for_quiet).
print_header() { printf '%-28s %12s %10s %10s %8s %6s\n' case "requests/s" "p50 ms" "p99 ms" errors "busy%"; }
print_row() { printf '%-28s %12s %10s %10s %8s %6s\n' "$1" "$RPS" "$P50" "$P99" "$ERRORS" "${BUSY_BEFORE:-?}"; }

server_peak_rss() {
    awk '/^VmHWM:/ { printf "%.0f MiB", $2 / 1024 }' "/proc/$SERVER_PID/status" 2>/dev/null || echo "?"
}

# The whole setup, in order. Sets BIN, BACKEND, BASE, SESSION, SEED_SECONDS, BENCH_OUT.
bench_setup() {
    trap bench_cleanup EXIT
    trap 'exit 130' INT TERM
    BENCH_TMP="$(mktemp -d -t gatehouse-bench.XXXXXX)"
    case "${DATABASE_URL:-sqlite://}" in postgres://* | postgresql://*) BACKEND=postgres ;; *) BACKEND=sqlite ;; esac
    bench_require_tools
    BENCH_OUT="${BENCH_OUT:-$BENCH_DIR/out/$(date +%Y%m%d-%H%M%S)-$BACKEND}"
    mkdir -p "$BENCH_OUT"
    bench_build
    bench_database
    bench_seed
    bench_serve
    bench_sign_in
}
