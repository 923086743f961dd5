#!/usr/bin/env bash
# Brings up the interop peers: installs the client peers (install.sh) and
# starts a real Apache Kafka broker in .tools/run/kafka (kafka.sh), reusing
# one that is already running there. Prints, on stdout and nothing else,
# the line that points the interop tests at it:
#
#   eval "$(scripts/peers/up.sh)"      # then: go test ./test/interop/
#
# scripts/peers/down.sh stops the broker.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
"$here/install.sh" >&2
bootstrap=$("$here/kafka.sh" start "$root/.tools/run/kafka")
echo "export TIDE_TEST_KAFKA_BOOTSTRAP=$bootstrap"
