# shellcheck shell=bash
# Node.js toolchain and npm packages. Source after common.sh.
#
# vna_node_ensure: make `node` (and so `npm`, a node script) Node 24. When the node on PATH is older,
#   use <repo>/.vna/toolchain/node-linux-<arch> (the npm package node-linux-<arch>@24: bin/node and
#   include/node headers, no npm), fetching it with the existing npm the first time. Exports PATH,
#   npm_config_nodedir (native addons build against Node 24's headers, overriding any nodedir in
#   ~/.npmrc), NODE and npm_node_execpath.
# vna_npm_ci: `npm ci` when node_modules is missing or its stamp does not match package-lock.json
#   and the running Node's ABI; otherwise nothing.

VNA_NODE_MAJOR=24

# Major version of a node binary, or nothing when it does not run.
vna_node_major_of() {
  local v
  v=$("$1" -v 2>/dev/null) || return 0
  v=${v#v}
  printf '%s' "${v%%.*}"
}

vna_node_arch() {
  case "$(uname -m)" in
    x86_64 | amd64) echo x64 ;;
    aarch64 | arm64) echo arm64 ;;
    *) vna_die "no Node $VNA_NODE_MAJOR package for CPU $(uname -m); install Node $VNA_NODE_MAJOR yourself and put it first on PATH" ;;
  esac
}

vna_node_toolchain_dir() { printf '%s/toolchain/node-linux-%s' "$VNA_STATE" "$(vna_node_arch)"; }

# Fetch node-linux-<arch>@24 with the npm already on the machine and unpack it atomically into $1.
vna_node_install() {
  local dest=$1 pkg tc tmp tgz got
  pkg="node-linux-$(vna_node_arch)@$VNA_NODE_MAJOR"
  tc=$(dirname "$dest")
  if ! command -v npm >/dev/null 2>&1; then
    vna_log "npm not found: installing Debian's npm to fetch Node $VNA_NODE_MAJOR"
    vna_apt_install npm
    hash -r
  fi
  mkdir -p "$tc"
  # One install at a time (npm start and npm test may run together); the loser reuses the result.
  local lockfd
  exec {lockfd}>"$tc/.install.lock"
  flock "$lockfd"
  if [[ $(vna_node_major_of "$dest/bin/node") == "$VNA_NODE_MAJOR" ]]; then
    exec {lockfd}>&-
    return 0
  fi
  rm -rf "$tc"/.install.*/
  tmp=$(mktemp -d "$tc/.install.XXXXXX")
  vna_log "provisioning Node $VNA_NODE_MAJOR: npm pack $pkg -> ${dest#"$VNA_ROOT"/}"
  (cd "$tmp" && npm pack --loglevel=error --pack-destination "$tmp" "$pkg" >/dev/null) ||
    vna_die "could not fetch the npm package $pkg (is the npm registry reachable?)"
  tgz=$(find "$tmp" -maxdepth 1 -name '*.tgz' | head -n 1)
  [[ -n $tgz ]] || vna_die "npm pack $pkg produced no tarball"
  mkdir "$tmp/x"
  tar -xzf "$tgz" -C "$tmp/x"
  got=$(vna_node_major_of "$tmp/x/package/bin/node")
  [[ $got == "$VNA_NODE_MAJOR" ]] || vna_die "$pkg unpacked, but its bin/node does not run as Node $VNA_NODE_MAJOR (got '${got:-nothing}')"
  [[ -f $tmp/x/package/include/node/node_version.h ]] || vna_die "$pkg has no include/node headers"
  rm -rf "$dest.old"
  if [[ -e $dest ]]; then mv "$dest" "$dest.old"; fi
  mv "$tmp/x/package" "$dest"
  rm -rf "$tmp" "$dest.old"
  exec {lockfd}>&-
}

vna_node_ensure() {
  vna_state_dir
  local cur tc_dir node_path prefix
  tc_dir=$(vna_node_toolchain_dir)
  cur=$(vna_node_major_of node)
  if [[ -n $cur && $cur -ge $VNA_NODE_MAJOR ]]; then
    node_path=$(command -v node)
    if [[ -x $tc_dir/bin/node && $node_path -ef $tc_dir/bin/node ]]; then
      export npm_config_nodedir="$tc_dir"
    else
      # A system Node that is new enough: build addons against its own headers when it has them.
      prefix=$(dirname "$(dirname "$(readlink -f "$node_path")")")
      if [[ $(sed -n 's/^#define NODE_MAJOR_VERSION \([0-9]*\).*/\1/p' "$prefix/include/node/node_version.h" 2>/dev/null) == "$cur" ]]; then
        export npm_config_nodedir="$prefix"
      else
        vna_warn "no Node $cur headers under $prefix/include/node: native addons that build from source may fail"
      fi
      if [[ $cur -gt $VNA_NODE_MAJOR ]]; then
        vna_warn "using Node $(node -v) from $node_path; the project targets Node $VNA_NODE_MAJOR"
      fi
    fi
  else
    if [[ $(vna_node_major_of "$tc_dir/bin/node") != "$VNA_NODE_MAJOR" ]]; then
      vna_log "node on PATH is $(node -v 2>/dev/null || echo missing); the project needs Node $VNA_NODE_MAJOR"
      vna_node_install "$tc_dir"
    fi
    export PATH="$tc_dir/bin:$PATH"
    export npm_config_nodedir="$tc_dir"
    hash -r
  fi
  command -v npm >/dev/null 2>&1 || vna_die "npm not found on PATH (install npm, e.g. apt-get install npm)"
  NODE=$(command -v node)
  export NODE npm_node_execpath="$NODE"
  vna_log "Node $(node -v) ($NODE), npm $(npm -v 2>/dev/null)${npm_config_nodedir:+, addon headers from $npm_config_nodedir}"
}

# Copy npm's output to stderr without its warning that nodedir is not an npm setting.
_vna_npm_quiet() { grep -v 'Unknown \(env\|user\|project\) config "nodedir"' >&2 || true; }

# Install npm packages unless node_modules already matches package-lock.json and this Node's ABI.
vna_npm_ci() {
  local lock="$VNA_ROOT/package-lock.json" stamp="$VNA_ROOT/node_modules/.vna-npm-ci.stamp" want
  [[ -f $lock ]] || vna_die "package-lock.json is missing in $VNA_ROOT"
  want="lock=$(sha256sum <"$lock" | cut -d' ' -f1) abi=$(node -p 'process.versions.modules + " " + process.platform + "-" + process.arch')"
  if [[ -d $VNA_ROOT/node_modules && -f $stamp ]] && [[ $(<"$stamp") == "$want" ]]; then
    # A lock file that is newer but unchanged in content (a fresh checkout, say) needs no install.
    if [[ $lock -nt $stamp ]]; then touch "$stamp"; fi
    vna_log "npm packages up to date (node_modules matches package-lock.json)"
    return 0
  fi
  vna_state_dir
  # One install at a time; whoever waited re-checks the stamp.
  local lockfd
  exec {lockfd}>"$VNA_STATE/npm-ci.lock"
  flock "$lockfd"
  if [[ -d $VNA_ROOT/node_modules && -f $stamp ]] && [[ $(<"$stamp") == "$want" ]]; then
    exec {lockfd}>&-
    vna_log "npm packages up to date (installed by a concurrent run)"
    return 0
  fi
  vna_log "npm ci (node_modules is missing or older than package-lock.json)"
  local log="$VNA_STATE/npm-ci.log" rc=0 lock_sum
  lock_sum=$(sha256sum <"$lock")
  # --include=dev: the build and tests need dev dependencies even if NODE_ENV=production is set.
  # (npm warns that nodedir is not one of its own settings; node-gyp reads it, so that line is dropped.)
  (cd "$VNA_ROOT" && npm ci --include=dev --no-audit --no-fund) >"$log" 2>&1 || rc=$?
  if [[ $rc -ne 0 ]]; then
    # npm bug (npm/cli#9846 and kin): npm ci rejects a lock file that npm install itself wrote when
    # an optional platform package (another OS's native binary) cannot be resolved from the
    # registry in use; it reports such packages as "Missing: NAME@ from lock file", without a
    # version. Only in exactly that case, install the locked versions with `npm install --no-save`
    # (which neither writes package-lock.json nor changes any locked version) on a clean tree.
    if grep -q 'can only install packages when your package.json and package-lock.json' "$log" &&
      ! grep -E '^npm error (Missing|Invalid): ' "$log" | grep -qvE '^npm error Missing: \S+@ from lock file$'; then
      vna_warn "npm ci rejected package-lock.json only for optional packages the registry does not serve (npm bug); installing the locked versions with npm install --no-save"
      rm -rf "$VNA_ROOT/node_modules"
      (cd "$VNA_ROOT" && npm install --no-save --include=dev --no-audit --no-fund) 2>&1 | _vna_npm_quiet
      [[ $(sha256sum <"$lock") == "$lock_sum" ]] || vna_die "npm install changed package-lock.json; that should not happen with --no-save"
    else
      _vna_npm_quiet <"$log"
      vna_die "npm ci failed (log: ${log#"$VNA_ROOT"/})"
    fi
  else
    _vna_npm_quiet <"$log"
  fi
  printf '%s\n' "$want" >"$stamp"
  exec {lockfd}>&-
}
