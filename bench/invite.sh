#!/usr/bin/env bash
# Invite submit: one POST /w/{ws}/invites with 100 new addresses (validation, seat and
# daily-limit checks, 100 invites + 100 rendered mails in one transaction). Reports the
# server time per submit (curl's total on loopback), over ROUNDS submits.
#
#   bench/invite.sh                                   # SQLite
#   DATABASE_URL=postgres://postgres@127.0.0.1:5432 bench/invite.sh
#   ROUNDS=20 ADDRESSES=100 bench/invite.sh
set -euo pipefail
export MEMBERS="${MEMBERS:-1000}"
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

ROUNDS="${ROUNDS:-10}"
ADDRESSES="${ADDRESSES:-100}"
# Without SMTP the server writes each mail as an .eml file under ./mail: keep them out of the repo.
MAIL_DIR="$(mktemp -d -t gatehouse-bench-mail.XXXXXX)"
cd "$MAIL_DIR"

bench_setup
# bench_cleanup stops the server first; then the mail it wrote can go.
trap 'bench_cleanup; rm -rf "$MAIL_DIR"' EXIT
"$BIN" workspace limits "$SLUG" --daily-invites 1000000 --seats unlimited >/dev/null \
    || die "could not raise the workspace limits"

page="$BASE/w/$SLUG/invites"
times=()
for round in $(seq 1 "$ROUNDS"); do
    body="$BENCH_TMP/invites.html"
    curl -sS -o "$body" -H "Cookie: gatehouse_session=$SESSION" "$page"
    csrf="$(sed -n 's/.*name="csrf_token" value="\([^"]*\)".*/\1/p;T;q' "$body")"
    role="$(sed -n 's/.*name="role" value="\([0-9]*\)"> Member .*/\1/p;T;q' "$body")"
    [[ -n "$csrf" && -n "$role" ]] || die "the Invites page has no form"
    emails="$(seq 1 "$ADDRESSES" | sed "s/.*/bench.r${round}.&@invitee.example/" | paste -sd, -)"
    read -r status seconds < <(curl -sS -o /dev/null -w '%{http_code} %{time_total}\n' \
        -H "Cookie: gatehouse_session=$SESSION" -H "Origin: $BASE" \
        --data-urlencode "csrf_token=$csrf" --data-urlencode "emails=$emails" \
        --data-urlencode "role=$role" --data-urlencode "seat_type=member" "$page")
    [[ "$status" == 303 ]] || die "invite submit $round answered $status, expected 303"
    times+=("$(awk -v s="$seconds" 'BEGIN { printf "%.1f", s * 1000 }')")
done
sorted="$(printf '%s\n' "${times[@]}" | sort -n)"
read -r min median max < <(printf '%s\n' "$sorted" | awk '{ a[NR] = $1 } END { print a[1], a[int((NR + 1) / 2)], a[NR] }')
printf '\nGatehouse invite submit — %s, %s addresses a submit, %s submits\n' "$BACKEND" "$ADDRESSES" "$ROUNDS"
printf 'server time ms: min %s  median %s  max %s\n' "$min" "$median" "$max"
printf 'target: < 150 ms\n'
