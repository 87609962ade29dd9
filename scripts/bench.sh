#!/usr/bin/env bash
# npm run bench: the benchmark (test/bench/run.ts, built to dist/test/bench/run.js), doing its own
# set-up like npm test: Node 24, npm packages, PostgreSQL, Redis, dcmtk, curl (the HTTP client the
# figures are taken with, as for the Orthanc peer), build. Arguments go to the benchmark
# (npm run bench -- --help). Exports VNA_TEST_DATABASE_URL and VNA_TEST_REDIS_URL as npm test does.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)"
# shellcheck source=scripts/lib/common.sh
source "$here/lib/common.sh"
# shellcheck source=scripts/lib/node.sh
source "$here/lib/node.sh"
# shellcheck source=scripts/lib/services.sh
source "$here/lib/services.sh"
cd "$VNA_ROOT"

vna_node_ensure
vna_npm_ci
vna_postgres_ensure
vna_redis_ensure
vna_dcmtk_ensure
command -v curl >/dev/null 2>&1 || vna_apt_install curl
vna_raise_nofile

vna_build
vna_require_built dist/test/bench/run.js
vna_pg_test_url_ensure
vna_test_redis_url_ensure

vna_log "running the benchmark (node dist/test/bench/run.js $*)"
exec node dist/test/bench/run.js "$@"
