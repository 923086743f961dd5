#!/usr/bin/env bash
# Stops the Kafka broker and PostgreSQL that scripts/peers/up.sh started. Safe to call when
# it is not running.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
"$here/kafka.sh" stop "$root/.tools/run/kafka"
"$here/postgres.sh" stop "$root/.tools/run/postgres"
