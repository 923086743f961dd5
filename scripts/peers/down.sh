#!/usr/bin/env bash
# Stops the Kafka broker that scripts/peers/up.sh started. Safe to call when
# it is not running.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
"$here/kafka.sh" stop "$root/.tools/run/kafka"
