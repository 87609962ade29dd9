#!/usr/bin/env bash
# npm test: the whole test suite, doing its own set-up: Node 24, npm packages, PostgreSQL, Redis,
# dcmtk; then build, type-check (tests included) and run Jest. Arguments go to Jest
# (e.g. `npm test -- --selectProjects unit`, `npm test -- path/to/file.spec.ts`).
# Exports VNA_TEST_DATABASE_URL (a database with the right to CREATE DATABASE; default: the
# `postgres` database of VNA_DATABASE_URL's server) and VNA_TEST_REDIS_URL (default: VNA_REDIS_URL).
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
vna_raise_nofile

vna_build
vna_log "type-checking apps, libs and tests (tsc -p tsconfig.json --noEmit)"
"$VNA_ROOT/node_modules/.bin/tsc" -p tsconfig.json --noEmit

vna_pg_test_url_ensure
vna_test_redis_url_ensure

vna_log "running jest"
exec node --experimental-vm-modules node_modules/jest/bin/jest.js "$@"
