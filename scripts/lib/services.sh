# shellcheck shell=bash
# PostgreSQL, Redis and dcmtk. Source after common.sh and node.sh; call after vna_npm_ci (the
# probes use the project's pg and ioredis packages).
#
# vna_postgres_ensure  exports VNA_DATABASE_URL (database `vna`):
#   1. VNA_DATABASE_URL when set (fails when it does not answer; creates its database if missing);
#   2. else a server on 127.0.0.1:5432: the role `vna` created earlier by these scripts (password in
#      .vna/postgres-password), else user `postgres` without password (trust auth), else, for a
#      cluster of this machine, the role `vna` created through the Unix socket as OS user postgres;
#   3. else apt-get install postgresql, start the cluster (pg_ctlcluster, no systemd needed), and
#      create the role `vna` (LOGIN CREATEDB, random password kept in .vna/, mode 0600) owning `vna`.
# vna_pg_test_url_ensure  exports VNA_TEST_DATABASE_URL (default: the `postgres` maintenance database
#   of the same server and credentials; the tests create and drop their own databases there).
# vna_redis_ensure  exports VNA_REDIS_URL: VNA_REDIS_URL when set; else 127.0.0.1:6379 when it
#   answers; else apt-get install redis-server and start one with its data in .vna/redis.
# vna_dcmtk_ensure  apt-get install dcmtk when storescu is missing.

# Local ports looked at and provisioned (only meant to be changed to try these functions on a
# spare port without touching the machine's own servers).
VNA_PG_PORT=${VNA_PG_PORT:-5432}
VNA_PG_CLUSTER=${VNA_PG_CLUSTER:-main}
VNA_REDIS_PORT=${VNA_REDIS_PORT:-6379}
VNA_PG_ROLE=vna
VNA_PG_DB=vna

# ---------------------------------------------------------------- PostgreSQL

# _vna_pg_check URL: probe; the probe's line (or error) lands in _VNA_PG_INFO, its code is returned.
_vna_pg_check() {
  local rc=0
  _VNA_PG_INFO=$(vna_probe pg "$1" 2>&1) || rc=$?
  return "$rc"
}

_vna_pg_password_file() { printf '%s/postgres-password' "$VNA_STATE"; }

# psql as the postgres OS user through the Unix socket (peer auth), for a cluster of this machine.
_vna_pg_psql() {
  local port=$1
  shift
  if [[ $EUID -eq 0 ]]; then
    (cd / && runuser -u postgres -- psql -X -q -v ON_ERROR_STOP=1 -p "$port" -d postgres "$@")
  else
    (cd / && sudo -n -u postgres psql -X -q -v ON_ERROR_STOP=1 -p "$port" -d postgres "$@")
  fi
}

# True when an online Debian cluster (pg_lsclusters) listens on PORT and we may act as user postgres.
_vna_pg_local_cluster() {
  command -v pg_lsclusters >/dev/null 2>&1 || return 1
  command -v psql >/dev/null 2>&1 || return 1
  [[ $EUID -eq 0 ]] || sudo -n -u postgres true 2>/dev/null || return 1
  pg_lsclusters -h 2>/dev/null | awk -v p="$1" '$3 == p && $4 ~ /^online/ { f = 1 } END { exit !f }'
}

# Create (or update) the role `vna` with the password kept in .vna/, and the database `vna` it owns.
_vna_pg_provision_role() {
  local port=$1 pwfile pw
  pwfile=$(_vna_pg_password_file)
  if [[ ! -s $pwfile ]]; then
    (umask 077 && od -An -tx1 -N24 /dev/urandom | tr -d ' \n' >"$pwfile")
    vna_log "generated a password for PostgreSQL role $VNA_PG_ROLE (${pwfile#"$VNA_ROOT"/}, mode 0600)"
  fi
  chmod 600 "$pwfile"
  pw=$(<"$pwfile")
  [[ $pw =~ ^[0-9a-f]{16,}$ ]] || vna_die "${pwfile#"$VNA_ROOT"/} holds something other than a generated password; delete it and run again"
  vna_log "PostgreSQL: creating/updating role $VNA_PG_ROLE and database $VNA_PG_DB on port $port (as OS user postgres)"
  # The password goes through stdin, never on a command line.
  _vna_pg_psql "$port" <<SQL
SELECT format('CREATE ROLE %I', '$VNA_PG_ROLE') WHERE NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '$VNA_PG_ROLE')\\gexec
ALTER ROLE "$VNA_PG_ROLE" WITH LOGIN CREATEDB PASSWORD '$pw';
SELECT format('CREATE DATABASE %I OWNER %I', '$VNA_PG_DB', '$VNA_PG_ROLE') WHERE NOT EXISTS (SELECT 1 FROM pg_database WHERE datname = '$VNA_PG_DB')\\gexec
ALTER DATABASE "$VNA_PG_DB" OWNER TO "$VNA_PG_ROLE";
SQL
}

# Install PostgreSQL when no server is installed, create/start the newest version's `main` cluster;
# prints the cluster's port on stdout.
_vna_pg_install_and_start() {
  local ver line port status cluster=$VNA_PG_CLUSTER
  if ! compgen -G '/usr/lib/postgresql/*/bin/postgres' >/dev/null; then
    vna_apt_install postgresql
    hash -r
  fi
  command -v pg_lsclusters >/dev/null 2>&1 || vna_die "PostgreSQL is installed but pg_lsclusters is missing (expected Debian's postgresql-common)"
  ver=$(find /usr/lib/postgresql -mindepth 3 -maxdepth 3 -path '*/bin/postgres' | awk -F/ '{ print $5 }' | sort -V | tail -n 1)
  [[ -n $ver ]] || vna_die "no PostgreSQL server binary under /usr/lib/postgresql"
  if ! pg_lsclusters -h | awk -v v="$ver" -v c="$cluster" '$1 == v && $2 == c { f = 1 } END { exit !f }'; then
    vna_log "PostgreSQL: creating cluster $ver/$cluster"
    vna_as_root pg_createcluster "$ver" "$cluster" >&2
  fi
  line=$(pg_lsclusters -h | awk -v v="$ver" -v c="$cluster" '$1 == v && $2 == c')
  port=$(awk '{ print $3 }' <<<"$line")
  status=$(awk '{ print $4 }' <<<"$line")
  if [[ $status != online* ]]; then
    vna_log "PostgreSQL: starting cluster $ver/$cluster on port $port"
    vna_as_root pg_ctlcluster --skip-systemctl-redirect "$ver" "$cluster" start >&2
  fi
  vna_wait_port 127.0.0.1 "$port" 30 "PostgreSQL $ver/$cluster"
  printf '%s\n' "$port"
}

_vna_pg_use_url() {
  local url=$1 shown rc=0 out
  shown=$(vna_redact "$url")
  _vna_pg_check "$url" || rc=$?
  if [[ $rc -eq 4 ]]; then
    vna_log "PostgreSQL: the database in VNA_DATABASE_URL ($shown) is missing: creating it"
    out=$(vna_probe pg-createdb "$url" 2>&1) ||
      vna_die "VNA_DATABASE_URL=$shown: the database does not exist and could not be created: $out"
    rc=0
    _vna_pg_check "$url" || rc=$?
  fi
  case $rc in
    0) vna_log "PostgreSQL: using VNA_DATABASE_URL=$shown" ;;
    2) vna_die "VNA_DATABASE_URL=$shown does not answer: $_VNA_PG_INFO" ;;
    3) vna_die "VNA_DATABASE_URL=$shown: the server answers but refuses the login: $_VNA_PG_INFO" ;;
    *) vna_die "VNA_DATABASE_URL=$shown: $_VNA_PG_INFO" ;;
  esac
  VNA_DATABASE_URL=$url
}

_vna_pg_use_local() {
  local port=$1 pwfile url rc out why
  pwfile=$(_vna_pg_password_file)
  # 1. The role these scripts created before.
  if [[ -s $pwfile ]]; then
    url="postgres://$VNA_PG_ROLE:$(<"$pwfile")@127.0.0.1:$port/$VNA_PG_DB"
    if _vna_pg_check "$url"; then
      vna_log "PostgreSQL: 127.0.0.1:$port as role $VNA_PG_ROLE (password in ${pwfile#"$VNA_ROOT"/})"
      VNA_DATABASE_URL=$url
      return 0
    fi
  fi
  # 2. User postgres without a password (trust authentication).
  rc=0
  _vna_pg_check "postgres://postgres@127.0.0.1:$port/postgres" || rc=$?
  if [[ $rc -eq 0 ]]; then
    url="postgres://postgres@127.0.0.1:$port/$VNA_PG_DB"
    out=$(vna_probe pg-createdb "$url" 2>&1) || vna_die "PostgreSQL on 127.0.0.1:$port: $out"
    [[ $out == created* ]] && vna_log "PostgreSQL: $out"
    vna_log "PostgreSQL: 127.0.0.1:$port as user postgres (no password: trust authentication)"
    VNA_DATABASE_URL=$url
    return 0
  fi
  why=$_VNA_PG_INFO
  # 3. A cluster of this machine: set up our own role through the Unix socket.
  if _vna_pg_local_cluster "$port"; then
    _vna_pg_provision_role "$port"
    url="postgres://$VNA_PG_ROLE:$(<"$pwfile")@127.0.0.1:$port/$VNA_PG_DB"
    rc=0
    _vna_pg_check "$url" || rc=$?
    [[ $rc -eq 0 ]] || vna_die "PostgreSQL on 127.0.0.1:$port: role $VNA_PG_ROLE was set up but cannot log in over TCP ($_VNA_PG_INFO); check pg_hba.conf allows password (scram-sha-256/md5) logins from 127.0.0.1"
    vna_log "PostgreSQL: 127.0.0.1:$port as role $VNA_PG_ROLE (password in ${pwfile#"$VNA_ROOT"/})"
    VNA_DATABASE_URL=$url
    return 0
  fi
  if [[ $rc -eq 2 ]]; then
    vna_die "something accepts connections on 127.0.0.1:$port but does not answer as PostgreSQL ($why). Stop it, or set VNA_DATABASE_URL"
  fi
  vna_die "PostgreSQL answers on 127.0.0.1:$port, but user postgres cannot log in without a password ($why).
[vna]   Either set VNA_DATABASE_URL=postgres://USER:PASSWORD@HOST:PORT/vna for a role that owns database vna
[vna]   (npm test also needs that role to have CREATEDB), or allow trust authentication for user postgres
[vna]   from 127.0.0.1 in pg_hba.conf, or run these scripts as root on the server's machine so they can set up their own role."
}

vna_postgres_ensure() {
  local port
  vna_state_dir
  if [[ -n ${VNA_DATABASE_URL:-} ]]; then
    _vna_pg_use_url "$VNA_DATABASE_URL"
  elif vna_port_open 127.0.0.1 "$VNA_PG_PORT"; then
    _vna_pg_use_local "$VNA_PG_PORT"
  else
    vna_log "PostgreSQL: nothing answers on 127.0.0.1:$VNA_PG_PORT; setting up a local server"
    port=$(_vna_pg_install_and_start)
    _vna_pg_use_local "$port"
  fi
  local version=${_VNA_PG_INFO##*version=}
  [[ $_VNA_PG_INFO == *"trgm=true"* ]] ||
    vna_warn "the pg_trgm extension is not available on this PostgreSQL server and the migrations need it (Debian/Ubuntu: apt-get install postgresql-contrib)"
  [[ $_VNA_PG_INFO == *"owner=true"* ]] ||
    vna_warn "the role in VNA_DATABASE_URL neither owns its database nor is a superuser: CREATE EXTENSION pg_trgm in the migrations may fail"
  vna_log "PostgreSQL ${version%% *} ready: VNA_DATABASE_URL=$(vna_redact "$VNA_DATABASE_URL")"
  export VNA_DATABASE_URL
}

vna_pg_test_url_ensure() {
  local rc=0
  [[ -n ${VNA_DATABASE_URL:-} ]] || vna_die "vna_pg_test_url_ensure: call vna_postgres_ensure first"
  if [[ -z ${VNA_TEST_DATABASE_URL:-} ]]; then
    VNA_TEST_DATABASE_URL=$(vna_probe pg-url "$VNA_DATABASE_URL" postgres)
  fi
  _vna_pg_check "$VNA_TEST_DATABASE_URL" || rc=$?
  [[ $rc -eq 0 ]] || vna_die "VNA_TEST_DATABASE_URL=$(vna_redact "$VNA_TEST_DATABASE_URL"): $_VNA_PG_INFO"
  [[ $_VNA_PG_INFO == *"createdb=true"* ]] ||
    vna_warn "the role in VNA_TEST_DATABASE_URL may not CREATE DATABASE; tests that make their own databases will fail"
  export VNA_TEST_DATABASE_URL
  vna_log "tests: VNA_TEST_DATABASE_URL=$(vna_redact "$VNA_TEST_DATABASE_URL")"
}

# ---------------------------------------------------------------- Redis

# _vna_redis_check URL LABEL: fail with a clear message unless Redis answers PING at URL.
_vna_redis_check() {
  local url=$1 label=$2 rc=0 out
  out=$(vna_probe redis "$url" 2>&1) || rc=$?
  case $rc in
    0) _VNA_REDIS_INFO=$out ;;
    2) vna_die "$label does not answer: $out" ;;
    3) vna_die "$label answers but needs a password (or a different one) [$out]; set VNA_REDIS_URL=redis://:PASSWORD@HOST:PORT" ;;
    *) vna_die "$label: $out" ;;
  esac
}

_vna_redis_install_and_start() {
  local port=$1 dir="$VNA_STATE/redis"
  if ! command -v redis-server >/dev/null 2>&1; then
    vna_apt_install redis-server
    hash -r
    if vna_port_open 127.0.0.1 "$port"; then
      vna_log "Redis: the redis-server package started its own server on 127.0.0.1:$port"
      return 0
    fi
  fi
  mkdir -p "$dir"
  vna_log "Redis: starting redis-server on 127.0.0.1:$port (data in ${dir#"$VNA_ROOT"/}, appendonly)"
  redis-server --daemonize yes --bind 127.0.0.1 --port "$port" --dir "$dir" --appendonly yes \
    --pidfile "$dir/redis.pid" --logfile "$dir/redis.log" >&2
  vna_wait_port 127.0.0.1 "$port" 15 "redis-server (log: ${dir#"$VNA_ROOT"/}/redis.log)"
}

vna_redis_ensure() {
  local url
  vna_state_dir
  if [[ -n ${VNA_REDIS_URL:-} ]]; then
    _vna_redis_check "$VNA_REDIS_URL" "VNA_REDIS_URL=$(vna_redact "$VNA_REDIS_URL")"
    vna_log "Redis: using VNA_REDIS_URL=$(vna_redact "$VNA_REDIS_URL") (${_VNA_REDIS_INFO})"
  else
    url="redis://127.0.0.1:$VNA_REDIS_PORT"
    if vna_port_open 127.0.0.1 "$VNA_REDIS_PORT"; then
      _vna_redis_check "$url" "Redis on 127.0.0.1:$VNA_REDIS_PORT"
      vna_log "Redis: using the server already on 127.0.0.1:$VNA_REDIS_PORT (${_VNA_REDIS_INFO})"
    else
      vna_log "Redis: nothing answers on 127.0.0.1:$VNA_REDIS_PORT; setting up a local server"
      _vna_redis_install_and_start "$VNA_REDIS_PORT"
      _vna_redis_check "$url" "Redis on 127.0.0.1:$VNA_REDIS_PORT"
      vna_log "Redis: started (${_VNA_REDIS_INFO})"
    fi
    VNA_REDIS_URL=$url
  fi
  export VNA_REDIS_URL
}

vna_test_redis_url_ensure() {
  [[ -n ${VNA_REDIS_URL:-} ]] || vna_die "vna_test_redis_url_ensure: call vna_redis_ensure first"
  if [[ -n ${VNA_TEST_REDIS_URL:-} && $VNA_TEST_REDIS_URL != "$VNA_REDIS_URL" ]]; then
    _vna_redis_check "$VNA_TEST_REDIS_URL" "VNA_TEST_REDIS_URL=$(vna_redact "$VNA_TEST_REDIS_URL")"
  fi
  export VNA_TEST_REDIS_URL=${VNA_TEST_REDIS_URL:-$VNA_REDIS_URL}
  vna_log "tests: VNA_TEST_REDIS_URL=$(vna_redact "$VNA_TEST_REDIS_URL")"
}

# ---------------------------------------------------------------- dcmtk

vna_dcmtk_ensure() {
  if ! command -v storescu >/dev/null 2>&1; then
    vna_log "dcmtk: storescu not found; installing dcmtk"
    vna_apt_install dcmtk
    hash -r
    command -v storescu >/dev/null 2>&1 || vna_die "dcmtk installed but storescu is still not on PATH"
  fi
  # shellcheck disable=SC2016 # the $ signs are literal, in sed
  vna_log "dcmtk: $(storescu --version 2>/dev/null | head -n 1 | sed 's/^\$dcmtk: //; s/ \$$//')"
}
