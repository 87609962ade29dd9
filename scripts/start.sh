#!/usr/bin/env bash
# npm start: the whole archive on this machine (the all-in-one `vna` app), doing its own set-up:
# Node 24, npm packages, PostgreSQL, Redis and Azurite, then build, migrate and run.
# Honours VNA_DATABASE_URL, VNA_REDIS_URL, VNA_BLOB_CONNECTION_STRING, VNA_DATA_DIR (default .vna/)
# and every other VNA_* variable of the app.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)"
# shellcheck source=scripts/lib/common.sh
source "$here/lib/common.sh"
# shellcheck source=scripts/lib/node.sh
source "$here/lib/node.sh"
# shellcheck source=scripts/lib/services.sh
source "$here/lib/services.sh"
# shellcheck source=scripts/lib/azurite.sh
source "$here/lib/azurite.sh"
cd "$VNA_ROOT"

vna_node_ensure
vna_npm_ci
vna_postgres_ensure
vna_redis_ensure
vna_azurite_ensure

export VNA_DATA_DIR="${VNA_DATA_DIR:-$VNA_STATE}"
mkdir -p "$VNA_DATA_DIR"

vna_build
vna_require_built dist/apps/vna/src/migrate.js
vna_require_built dist/apps/vna/src/main.js

vna_log "migrating the database schema (node dist/apps/vna/src/migrate.js)"
node dist/apps/vna/src/migrate.js

vna_log "starting the archive: HTTP ${VNA_BIND:-127.0.0.1}:${VNA_HTTP_PORT:-8080}, DICOM ${VNA_DICOM_PORT:-11112} (AE ${VNA_DICOM_AET:-VNA}), HL7 ${VNA_HL7_PORT:-2575}; data in $VNA_DATA_DIR"
exec node dist/apps/vna/src/main.js
