# Sourced by tests/run and tests/dev: makes sure DATABASE_URL points at a PostgreSQL server.
# Order: an existing $DATABASE_URL, then (when TRY_DEFAULT_PG=1) a server on 127.0.0.1:5432,
# then a private server started from the installed PostgreSQL binaries with its data in
# $PRIVATE_PG_DIR (stopped by `stop_private_pg`, which callers put in an EXIT trap), with any
# extra server options in $PRIVATE_PG_OPTIONS.

private_pg_started=""

find_pg_bin() {
  local dir
  for dir in /usr/lib/postgresql/*/bin /usr/local/pgsql/bin; do
    [ -x "$dir/initdb" ] && { echo "$dir"; return 0; }
  done
  command -v initdb >/dev/null 2>&1 && { dirname "$(command -v initdb)"; return 0; }
  return 1
}

as_pg_user() {
  # initdb and postgres refuse to run as root.
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

ensure_database_url() {
  if [ -n "${DATABASE_URL:-}" ]; then return 0; fi
  if [ "${TRY_DEFAULT_PG:-0}" = 1 ] && (exec 3<>/dev/tcp/127.0.0.1/5432) 2>/dev/null; then
    export DATABASE_URL="postgres://postgres@127.0.0.1:5432/postgres"
    return 0
  fi
  local bin port
  bin=$(find_pg_bin) || { echo "No PostgreSQL found: set DATABASE_URL or install postgresql." >&2; return 1; }
  port=${PRIVATE_PG_PORT:-55432}
  mkdir -p "$PRIVATE_PG_DIR"
  [ "$(id -u)" = 0 ] && chown postgres "$PRIVATE_PG_DIR"
  if [ ! -f "$PRIVATE_PG_DIR/data/PG_VERSION" ]; then
    as_pg_user "$bin/initdb" -D "$PRIVATE_PG_DIR/data" -U postgres --auth=trust >/dev/null
  fi
  as_pg_user "$bin/pg_ctl" -D "$PRIVATE_PG_DIR/data" -l "$PRIVATE_PG_DIR/server.log" -w \
    -o "-p $port -k $PRIVATE_PG_DIR -c listen_addresses=127.0.0.1 ${PRIVATE_PG_OPTIONS:-}" start >/dev/null
  private_pg_started="$bin"
  private_pg_port=$port
  export DATABASE_URL="postgres://postgres@127.0.0.1:$port/postgres"
  echo "Started a private PostgreSQL on 127.0.0.1:$port (data in $PRIVATE_PG_DIR)." >&2
}

# Runs psql against the private server.
private_psql() {
  as_pg_user "$private_pg_started/psql" -h 127.0.0.1 -p "$private_pg_port" -U postgres -qAt "$@"
}

stop_private_pg() {
  if [ -n "$private_pg_started" ]; then
    as_pg_user "$private_pg_started/pg_ctl" -D "$PRIVATE_PG_DIR/data" -m fast stop >/dev/null || true
  fi
}
