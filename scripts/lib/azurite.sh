# shellcheck shell=bash
# Azurite (the Azure Blob Storage emulator) for `npm start`. Source after common.sh; call after
# vna_npm_ci (azurite is a devDependency) and vna_node_ensure (it runs on the Node on PATH).
#
# vna_azurite_ensure  exports VNA_BLOB_CONNECTION_STRING: the variable as given when set; else
#   an Azurite blob service on 127.0.0.1:10000 with its data in .vna/azurite, reusing the one these
#   scripts started before (pid file), started in its own session so Ctrl-C on the app leaves it up.

VNA_AZURITE_HOST=127.0.0.1
VNA_AZURITE_PORT=${VNA_AZURITE_PORT:-10000}

# The well-known Azurite development account (devstoreaccount1). Microsoft publishes this key in
# Azurite's documentation for local development; it is not a secret and grants nothing elsewhere.
vna_azurite_connection_string() {
  local host=${1:-$VNA_AZURITE_HOST} port=${2:-$VNA_AZURITE_PORT}
  local account=devstoreaccount1
  local key='Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=='
  printf 'DefaultEndpointsProtocol=http;AccountName=%s;AccountKey=%s;BlobEndpoint=http://%s:%s/%s;' \
    "$account" "$key" "$host" "$port" "$account"
}

# True when PID is alive and is an Azurite process (on PORT, when given).
_vna_azurite_pid_alive() {
  local pid=$1 port=${2:-} cmdline
  [[ $pid =~ ^[0-9]+$ ]] && kill -0 "$pid" 2>/dev/null || return 1
  cmdline=$(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null) || return 1
  [[ $cmdline == *azurite* ]] || return 1
  [[ -z $port || $cmdline == *"--blobPort $port "* ]]
}

vna_azurite_ensure() {
  local dir="$VNA_STATE/azurite" pidfile bin pid server i
  pidfile="$dir/azurite.pid"
  if [[ -n ${VNA_BLOB_CONNECTION_STRING:-} ]]; then
    vna_log "Blob storage: using VNA_BLOB_CONNECTION_STRING as given"
    return 0
  fi
  mkdir -p "$dir"
  pid=$(cat "$pidfile" 2>/dev/null || true)
  if _vna_azurite_pid_alive "$pid" "$VNA_AZURITE_PORT" && vna_port_open "$VNA_AZURITE_HOST" "$VNA_AZURITE_PORT"; then
    vna_log "Azurite: reusing the one running from ${dir#"$VNA_ROOT"/} (pid $pid) on $VNA_AZURITE_HOST:$VNA_AZURITE_PORT"
  elif vna_port_open "$VNA_AZURITE_HOST" "$VNA_AZURITE_PORT"; then
    server=$(vna_probe http-server "http://$VNA_AZURITE_HOST:$VNA_AZURITE_PORT/" 2>/dev/null || true)
    [[ $server == Azurite* ]] ||
      vna_die "$VNA_AZURITE_HOST:$VNA_AZURITE_PORT is taken by something that is not Azurite (Server: '${server}'); free the port or set VNA_BLOB_CONNECTION_STRING"
    vna_log "Azurite: reusing the one already listening on $VNA_AZURITE_HOST:$VNA_AZURITE_PORT ($server, not started from .vna/)"
  else
    bin="$VNA_ROOT/node_modules/.bin/azurite-blob"
    [[ -x $bin ]] || vna_die "$bin is missing (azurite is a devDependency: did npm ci run?)"
    vna_log "Azurite: starting the blob service on $VNA_AZURITE_HOST:$VNA_AZURITE_PORT (data and log in ${dir#"$VNA_ROOT"/})"
    local -a cmd=("$bin" --blobHost "$VNA_AZURITE_HOST" --blobPort "$VNA_AZURITE_PORT" --location "$dir"
      --disableTelemetry --skipApiVersionCheck --loose --silent)
    # setsid: its own session, so a Ctrl-C or the app's exit does not take it down.
    if command -v setsid >/dev/null 2>&1; then
      setsid "${cmd[@]}" >>"$dir/azurite.log" 2>&1 </dev/null &
    else
      nohup "${cmd[@]}" >>"$dir/azurite.log" 2>&1 </dev/null &
    fi
    pid=$!
    printf '%s\n' "$pid" >"$pidfile"
    for ((i = 0; i < 120; i++)); do
      vna_port_open "$VNA_AZURITE_HOST" "$VNA_AZURITE_PORT" && break
      if ! kill -0 "$pid" 2>/dev/null; then
        tail -n 20 "$dir/azurite.log" >&2 || true
        rm -f "$pidfile"
        vna_die "Azurite exited at start (log: ${dir#"$VNA_ROOT"/}/azurite.log)"
      fi
      sleep 0.25
    done
    vna_port_open "$VNA_AZURITE_HOST" "$VNA_AZURITE_PORT" ||
      vna_die "Azurite did not answer on $VNA_AZURITE_HOST:$VNA_AZURITE_PORT within 30s (log: ${dir#"$VNA_ROOT"/}/azurite.log)"
    vna_log "Azurite: started (pid $pid)"
  fi
  VNA_BLOB_CONNECTION_STRING=$(vna_azurite_connection_string "$VNA_AZURITE_HOST" "$VNA_AZURITE_PORT")
  export VNA_BLOB_CONNECTION_STRING
}

# Stop the Azurite these scripts started (by its pid file); nothing else.
vna_azurite_stop() {
  local pidfile="$VNA_STATE/azurite/azurite.pid" pid
  pid=$(cat "$pidfile" 2>/dev/null || true)
  if _vna_azurite_pid_alive "$pid"; then
    kill "$pid"
    vna_log "Azurite: stopped (pid $pid)"
  fi
  rm -f "$pidfile"
}
