#!/usr/bin/env bash
# The audit log at scale: a workspace whose log holds EVENTS (default 1,000,000) entries,
# filled by one bulk SQL INSERT (not over HTTP), then timed over HTTP with the release
# binary: the first page, a page deep in the log by the keyset cursor (`before=`), filtered
# pages (actor + action + dates; an action that never occurs; an old date range; a target
# label rare and common), the membership history (the Users list as of a date, the diff),
# and the whole CSV export (time, size, server peak RSS).
#
#   bench/audit.sh                                                  # SQLite
#   DATABASE_URL=postgres://postgres@127.0.0.1:5432 bench/audit.sh  # PostgreSQL
#   EVENTS=100000 RUNS=3 bench/audit.sh                             # quicker
#
# Each page case is RUNS (default 7) sequential curl requests after one warm-up; the
# median and the slowest are printed. The first page is also run under wrk (DURATION).
set -euo pipefail
# Defaults before lib.sh, which sets its own (100k members) for what is still unset.
EVENTS="${EVENTS:-1000000}"
MEMBERS="${MEMBERS:-1000}"
RUNS="${RUNS:-7}"
DURATION="${DURATION:-10s}"
CONNECTIONS="${CONNECTIONS:-8}"
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

# One INSERT … SELECT: EVENTS rows for the bench workspace, one every 30 s up to now (so a
# year spans ~1M rows), eight actions in turn, one row in ten by the Owner, the rest by the
# seeded members.
fill_sqlite() {
    sqlite3 "${DATABASE_URL#sqlite://}" <<SQL
PRAGMA busy_timeout = 10000;
INSERT INTO audit_events
    (workspace_id, actor_account_id, action, target_type, target_id, target_label, changes, ip, created_at)
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < $EVENTS),
ws AS (SELECT id FROM workspaces WHERE slug = '$SLUG'),
acc AS (SELECT MIN(account_id) AS lo, MAX(account_id) AS hi FROM members WHERE workspace_id = (SELECT id FROM ws)),
own AS (SELECT account_id AS id FROM email_addresses WHERE canonical = '$OWNER_EMAIL')
SELECT (SELECT id FROM ws),
       CASE WHEN i % 10 = 0 THEN (SELECT id FROM own) ELSE acc.lo + (i * 7919) % (acc.hi - acc.lo + 1) END,
       CASE i % 8 WHEN 0 THEN 'member.roles_changed' WHEN 1 THEN 'member.department_changed'
                  WHEN 2 THEN 'invite.created' WHEN 3 THEN 'role.updated'
                  WHEN 4 THEN 'workspace.settings_changed' WHEN 5 THEN 'member.seat_changed'
                  WHEN 6 THEN 'invite.revoked' ELSE 'member.manager_changed' END,
       'member', i % 1000, 'bench-target-' || (i % 50000),
       '{"before":{"department":"Sales"},"after":{"department":"Support"}}',
       '10.0.' || (i % 250) || '.' || (i % 200),
       strftime('%Y-%m-%d %H:%M:%S', 'now', '-' || (($EVENTS - i) * 30) || ' seconds')
FROM n, acc;
ANALYZE;
SQL
}

fill_postgres() {
    psql "$DATABASE_URL" -qAtX -v ON_ERROR_STOP=1 <<SQL
INSERT INTO audit_events
    (workspace_id, actor_account_id, action, target_type, target_id, target_label, changes, ip, created_at)
SELECT ws.id,
       CASE WHEN i % 10 = 0 THEN own.id ELSE acc.lo + (i * 7919) % (acc.hi - acc.lo + 1) END,
       (ARRAY['member.manager_changed', 'member.roles_changed', 'member.department_changed',
              'invite.created', 'role.updated', 'workspace.settings_changed',
              'member.seat_changed', 'invite.revoked'])[i % 8 + 1],
       'member', i % 1000, 'bench-target-' || (i % 50000),
       '{"before":{"department":"Sales"},"after":{"department":"Support"}}',
       '10.0.' || (i % 250) || '.' || (i % 200),
       (now() AT TIME ZONE 'UTC') - make_interval(secs => ($EVENTS - i) * 30)
FROM generate_series(1::bigint, $EVENTS) AS i,
     (SELECT id FROM workspaces WHERE slug = '$SLUG') AS ws,
     (SELECT MIN(account_id) AS lo, MAX(account_id) AS hi FROM members
       WHERE workspace_id = (SELECT id FROM workspaces WHERE slug = '$SLUG')) AS acc,
     (SELECT account_id AS id FROM email_addresses WHERE canonical = '$OWNER_EMAIL') AS own;
VACUUM (ANALYZE) audit_events;
SQL
}

sql_value() {
    if [[ "$BACKEND" == sqlite ]]; then
        sqlite3 "${DATABASE_URL#sqlite://}" "$1"
    else
        psql "$DATABASE_URL" -qAtX -c "$1"
    fi
}

# check_audit URL: one request; fails unless 200 and the audit screen. Prints the entries.
check_audit() {
    local body="$BENCH_TMP/check.html" status
    status="$(curl -sS -o "$body" -w '%{http_code}' -H "Cookie: gatehouse_session=$SESSION" "$1")"
    [[ "$status" == 200 ]] || die "$1 answered $status, expected 200"
    grep -q '<h1>Audit log</h1>' "$body" || die "$1 is not the audit log"
    grep -o 'class="audit-entry"' "$body" | wc -l
}

# time_case NAME URL: RUNS timed requests; sets MEDIAN_MS and MAX_MS.
time_case() {
    local times=() t
    curl -sS -o /dev/null -H "Cookie: gatehouse_session=$SESSION" "$2"
    for _ in $(seq 1 "$RUNS"); do
        t="$(curl -sS -o /dev/null -w '%{time_total}' -H "Cookie: gatehouse_session=$SESSION" "$2")"
        times+=("$(awk -v t="$t" 'BEGIN { printf "%.1f", t * 1000 }')")
    done
    MEDIAN_MS="$(printf '%s\n' "${times[@]}" | sort -n | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }')"
    MAX_MS="$(printf '%s\n' "${times[@]}" | sort -n | tail -n 1)"
}

trap bench_cleanup EXIT
trap 'exit 130' INT TERM
BENCH_TMP="$(mktemp -d -t gatehouse-bench.XXXXXX)"
case "${DATABASE_URL:-sqlite://}" in postgres://* | postgresql://*) BACKEND=postgres ;; *) BACKEND=sqlite ;; esac
bench_require_tools
command -v sqlite3 >/dev/null || [[ "$BACKEND" == postgres ]] || die "sqlite3 is needed to fill the log"
BENCH_OUT="${BENCH_OUT:-$BENCH_DIR/out/$(date +%Y%m%d-%H%M%S)-audit-$BACKEND}"
mkdir -p "$BENCH_OUT"
bench_build
bench_database
bench_seed
log "filling the log with $EVENTS events (one INSERT … SELECT)"
t0=$(now)
"fill_$BACKEND"
FILL_SECONDS=$(elapsed "$t0" "$(now)")
log "fill: ${FILL_SECONDS}s"
bench_serve
bench_sign_in

AUDIT="$BASE/w/$SLUG/audit"
MAX_ID="$(sql_value "SELECT MAX(id) FROM audit_events")"
DEEP=$((MAX_ID - EVENTS * 9 / 10))
TODAY="$(date -u +%F)"
MONTH_AGO="$(date -u -d '30 days ago' +%F)"
YEAR_AGO="$(date -u -d '330 days ago' +%F)"
YEAR_AGO_END="$(date -u -d '320 days ago' +%F)"
cases=(
    "first page|$AUDIT"
    "deep page (before=)|$AUDIT?before=$DEEP"
    "actor+action+30 days|$AUDIT?actor=owner%40bench&action=member.roles_changed&from=$MONTH_AGO&to=$TODAY"
    "action never recorded|$AUDIT?action=member.removed"
    "dates 11 months ago|$AUDIT?from=$YEAR_AGO&to=$YEAR_AGO_END"
    "target, deep|$AUDIT?target=bench-target-49999&before=$DEEP"
    # A rare label from the newest event (20 matches in 1M), a common one (bench-target-1*:
    # 22 % of the rows) and one in every row: an index must not make the common ones slower.
    "target rare, first page|$AUDIT?target=bench-target-49999"
    "target 22%, first page|$AUDIT?target=bench-target-1"
    "target every row, deep|$AUDIT?target=target&before=$DEEP"
)
for entry in "${cases[@]}"; do
    IFS='|' read -r name url <<<"$entry"
    log "check $name: $(check_audit "$url") entries"
done

# The membership history (issue 12.6) replays the workspace's membership events, here the
# seeded members' joins and the fill's member.roles_changed rows (an eighth of EVENTS).
HALF_YEAR_AGO="$(date -u -d '180 days ago' +%F)"
history_cases=(
    "users as of today|$BASE/w/$SLUG/users?as_of=$TODAY|Members as of"
    "users as of 6 months ago|$BASE/w/$SLUG/users?as_of=$HALF_YEAR_AGO|Members as of"
    "membership diff 30 days|$BASE/w/$SLUG/audit/diff?from=$MONTH_AGO&to=$TODAY|Membership changes"
)
# The first request of each is timed on its own: the first replays from the workspace's
# first event and leaves the checkpoints (roster_snapshots) the later ones start from.
first_requests=()
for entry in "${history_cases[@]}"; do
    IFS='|' read -r name url marker <<<"$entry"
    out="$(curl -sS -o "$BENCH_TMP/check.html" -w '%{http_code} %{time_total}' -H "Cookie: gatehouse_session=$SESSION" "$url")"
    status="${out%% *}"
    [[ "$status" == 200 ]] || die "$url answered $status, expected 200"
    grep -q "$marker" "$BENCH_TMP/check.html" || die "$url is not the page of $marker"
    first_requests+=("$(printf '%-26s %10s' "$name" "$(awk -v t="${out#* }" 'BEGIN { printf "%.1f", t * 1000 }')")")
done
CHECKPOINTS="$(sql_value "SELECT COUNT(*) FROM roster_snapshots")"

results=()
for entry in "${cases[@]}" "${history_cases[@]}"; do
    IFS='|' read -r name url _ <<<"$entry"
    wait_for_quiet
    time_case "$name" "$url"
    results+=("$(printf '%-26s %10s %10s %6s' "$name" "$MEDIAN_MS" "$MAX_MS" "$BUSY_BEFORE")")
done

wait_for_quiet
run_wrk first_page "$AUDIT"
WRK_LINE="first page under wrk -t$THREADS -c$CONNECTIONS -d$DURATION: $RPS requests/s, p50 $P50 ms, p99 $P99 ms, $ERRORS errors"

# The server's anonymous memory (heap) sampled while the file streams: VmHWM would count
# the pages of SQLite's memory-mapped database file too.
rss_anon_kib() { awk '/^RssAnon:/ { print $2 }' "/proc/$SERVER_PID/status"; }
wait_for_quiet
ANON_BEFORE="$(rss_anon_kib)"
t0=$(now)
curl -sS -o /dev/null -w '%{size_download}' -H "Cookie: gatehouse_session=$SESSION" \
    "$AUDIT?format=csv" >"$BENCH_TMP/csv.size" &
CURL_PID=$!
ANON_PEAK="$ANON_BEFORE"
while kill -0 "$CURL_PID" 2>/dev/null; do
    a="$(rss_anon_kib)"
    ((a > ANON_PEAK)) && ANON_PEAK="$a"
    sleep 0.05
done
wait "$CURL_PID" || die "the CSV export failed"
CSV_SECONDS=$(elapsed "$t0" "$(now)")
CSV_BYTES="$(cat "$BENCH_TMP/csv.size")"
CSV_LINE="CSV export of $EVENTS+ rows: ${CSV_SECONDS}s, $((CSV_BYTES / 1024 / 1024)) MiB; server RssAnon $((ANON_BEFORE / 1024)) MiB before, peak $((ANON_PEAK / 1024)) MiB while streaming (VmHWM $(server_peak_rss))"

echo
echo "Gatehouse audit log benchmark — $BACKEND, $EVENTS events, $MEMBERS members, $(nproc) cores, $RUNS runs a case"
if [[ "$BACKEND" == sqlite ]]; then
    DB_SIZE="$(du -sh "$BENCH_TMP" | awk '{print $1}')"
else
    DB_SIZE="$(sql_value "SELECT pg_size_pretty(pg_database_size(current_database()))")"
fi
echo "fill: ${FILL_SECONDS}s (one INSERT … SELECT); database size after: $DB_SIZE"
printf '%-26s %10s %10s %6s\n' case "median ms" "max ms" "busy%"
printf '%s\n' "${results[@]}"
echo "$WRK_LINE"
echo "$CSV_LINE"
echo "membership history, first request of each (ms; checkpoints after them: $CHECKPOINTS):"
printf '%s\n' "${first_requests[@]}"
