# shellcheck shell=bash
# Common helpers for the provisioning scripts. Source it; it defines functions and two variables:
#   VNA_ROOT   the repository root (resolved from this file's location)
#   VNA_STATE  <repo>/.vna: local state (toolchain, passwords, service data); never committed
# Everything prints to stderr with a "[vna]" prefix so the app's own output stays clean.

VNA_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd -P)"
VNA_STATE="$VNA_ROOT/.vna"

vna_log() { printf '[vna] %s\n' "$*" >&2; }
vna_warn() { printf '[vna] WARNING: %s\n' "$*" >&2; }
vna_die() {
  printf '[vna] ERROR: %s\n' "$*" >&2
  exit 1
}

vna_state_dir() {
  mkdir -p "$VNA_STATE"
  chmod 700 "$VNA_STATE" 2>/dev/null || true
}

# Hide the password of a URL (scheme://user:secret@host -> scheme://user:***@host) for log lines.
vna_redact() { printf '%s' "$1" | sed -E 's#(://[^:/@]*):[^@/]*@#\1:***@#'; }

# True when something accepts TCP connections on host:port (bash's /dev/tcp, no client needed).
vna_port_open() {
  timeout 2 bash -c ": >/dev/tcp/$1/$2" 2>/dev/null
}

# vna_wait_port HOST PORT SECONDS WHAT: wait until the port answers or fail.
vna_wait_port() {
  local host=$1 port=$2 secs=$3 what=$4 i
  for ((i = 0; i < secs * 4; i++)); do
    vna_port_open "$host" "$port" && return 0
    sleep 0.25
  done
  vna_die "$what did not start answering on $host:$port within ${secs}s"
}

# Run a command as root: directly when we are root, else through sudo without a prompt.
vna_as_root() {
  if [[ $EUID -eq 0 ]]; then
    "$@"
  elif command -v sudo >/dev/null 2>&1; then
    sudo -n "$@"
  else
    vna_die "need root for: $* (run as root, or install sudo)"
  fi
}

# vna_apt_install PKG...: apt-get install, noninteractive; apt-get update once per run, only when installing.
vna_apt_install() {
  local log="$VNA_STATE/apt.log"
  command -v apt-get >/dev/null 2>&1 ||
    vna_die "cannot install $* automatically: apt-get not found (these scripts provision Debian/Ubuntu); install them yourself"
  vna_state_dir
  if [[ -z ${_VNA_APT_UPDATED:-} ]]; then
    vna_log "apt-get update"
    vna_as_root env DEBIAN_FRONTEND=noninteractive apt-get update -q >>"$log" 2>&1 ||
      { tail -n 20 "$log" >&2; vna_die "apt-get update failed (log: ${log#"$VNA_ROOT"/})"; }
    _VNA_APT_UPDATED=1
  fi
  vna_log "apt-get install -y $* (log: ${log#"$VNA_ROOT"/})"
  vna_as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "$@" >>"$log" 2>&1 ||
    { tail -n 20 "$log" >&2; vna_die "apt-get install $* failed (log: ${log#"$VNA_ROOT"/})"; }
}

# Run the Node probe (scripts/lib/probe.mjs: talks to PostgreSQL/Redis/HTTP with the project's own
# client libraries, so no psql/redis-cli is needed). Needs node_modules (vna_npm_ci first).
# Usage: vna_probe COMMAND URL [ARG...]; the URL travels in the environment, not on the command line.
vna_probe() {
  local cmd=$1 url=$2
  shift 2
  VNA_PROBE_URL=$url node "$VNA_ROOT/scripts/lib/probe.mjs" "$cmd" "$@"
}

# Raise the open-files limit (jest workers, sockets, spool files) when it is low.
vna_raise_nofile() {
  local want=65536 soft hard
  soft=$(ulimit -Sn)
  [[ $soft == unlimited || $soft -ge $want ]] && return 0
  hard=$(ulimit -Hn)
  if [[ $hard != unlimited && $hard -lt $want ]]; then want=$hard; fi
  if [[ $want -le $soft ]]; then
    vna_log "open-files limit is $soft (the hard limit; fine unless tests hit EMFILE)"
  elif ulimit -Sn "$want" 2>/dev/null; then
    vna_log "raised the open-files limit from $soft to $want"
  else
    vna_warn "open-files limit is $soft and could not be raised"
  fi
}

# npm run build (tsc -p tsconfig.build.json), then check an expected output exists.
vna_build() {
  vna_log "building (npm run build)"
  (cd "$VNA_ROOT" && npm run --silent build)
}

# vna_require_built REL_PATH: fail clearly when the build did not produce an entry point.
vna_require_built() {
  [[ -f $VNA_ROOT/$1 ]] || vna_die "$1 does not exist after the build (is its .ts source there yet?)"
}
