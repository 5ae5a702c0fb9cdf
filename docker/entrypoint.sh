#!/usr/bin/env bash
# The image's entrypoint: wait for the database (WORKFLOW_APP_DB_WAIT_SECONDS, default 60), migrate
# it and deploy the models (`workflow-app init-db`; skipped with WORKFLOW_APP_MIGRATE=0), then
# replace this shell with the given command (`workflow-app serve ...`, `workflow-app scheduler`),
# so that it receives the container's signals itself.
set -euo pipefail

if [ $# -eq 0 ]; then
  echo "usage: entrypoint.sh COMMAND [ARG...]" >&2
  exit 2
fi
python3 "$(dirname "${BASH_SOURCE[0]}")/wait_for_database.py" "${WORKFLOW_APP_DB_WAIT_SECONDS:-60}"
if [ "${WORKFLOW_APP_MIGRATE:-1}" != 0 ]; then
  workflow-app init-db
fi
exec "$@"
