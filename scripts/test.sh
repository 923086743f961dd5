#!/usr/bin/env bash
# Runs every test of Tide on a fresh machine: installs the tools the tests
# need, then vet, lint, the race-enabled test suite, short fuzz runs and a
# smoke test of the built binary. .ci/run calls exactly this.
#
# Locally, a test whose peer is missing skips with a loud reason; under
# CI=true it fails instead. Set TIDE_TEST_QUICK=1 to skip lint and fuzzing.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
export GOFLAGS="${GOFLAGS:-} -buildvcs=false"
tools="$root/.tools"
mkdir -p "$tools"
start=$(date +%s)
step() { printf '\n== %s (%ss)\n' "$*" "$(( $(date +%s) - start ))"; }

step "go version"
go version

step "gofmt"
unformatted=$(gofmt -l $(git ls-files '*.go' 2>/dev/null || find . -name '*.go' -not -path './.tools/*'))
if [ -n "$unformatted" ]; then
	echo "gofmt would change:"; echo "$unformatted"; exit 1
fi

step "go vet"
go vet ./...

if [ "${TIDE_TEST_QUICK:-}" != 1 ]; then
	step "golangci-lint (config: .golangci.yml)"
	lint_version=v2.15.0
	if [ ! -x "$tools/golangci-lint-$lint_version" ]; then
		GOBIN="$tools/bin" go install "github.com/golangci/golangci-lint/v2/cmd/golangci-lint@$lint_version"
		mv "$tools/bin/golangci-lint" "$tools/golangci-lint-$lint_version"
	fi
	"$tools/golangci-lint-$lint_version" run ./...
fi

step "test peers: kcat, Prometheus, kafkajs, Java client, Apache Kafka, PostgreSQL (scripts/peers/up.sh)"
if peers=$(scripts/peers/up.sh); then
	eval "$peers"
	trap 'scripts/peers/down.sh >/dev/null 2>&1 || true' EXIT
elif [ "${CI:-}" = true ]; then
	echo "interop peers failed to start"; exit 1
else
	echo "WARNING: interop peers unavailable; tests that need them skip (they fail under CI=true)"
fi
# The interop suite runs every client against Tide too, as a child process.
go build -o "$tools/tide" ./cmd/tide
export TIDE_TEST_TIDE_BIN="$tools/tide"

step "go test -race -shuffle=on"
set +e
go test -race -shuffle=on -timeout 20m ./... 2>&1 | tee "$tools/go-test.log"
status=${PIPESTATUS[0]}
set -e
if [ "$status" != 0 ]; then
	grep -E '^(--- FAIL|FAIL)' "$tools/go-test.log" || true
	exit "$status"
fi

if [ "${TIDE_TEST_QUICK:-}" != 1 ]; then
	# A count, not a duration: with -fuzztime 10s, Go 1.26's fuzz coordinator can
	# report its own deadline as a failure with no crasher (go.dev/issue/75804,
	# fixed in Go 1.27). 50,000 inputs take 2-8 s per target here; at 100,000 the
	# 57 targets took 5 minutes on a quiet machine and 10 on a loaded one, which
	# pushed the suite past 20 minutes. Longer runs: TIDE_FUZZTIME=1000000x.
	step "fuzz (short runs of every fuzz target)"
	for pkg in $(go list ./...); do
		dir=$(go list -f '{{.Dir}}' "$pkg")
		for target in $(grep -ho '^func Fuzz[A-Za-z0-9_]*' "$dir"/*_test.go 2>/dev/null | sed 's/^func //'); do
			echo "-- $pkg $target"
			go test -run '^$' -fuzz "^${target}\$" -fuzztime "${TIDE_FUZZTIME:-50000x}" "$pkg"
		done
	done
fi

step "smoke test of the built binary"
bin="$tools/tide"
data=$(mktemp -d)
trap 'rm -rf "$data"; scripts/peers/down.sh >/dev/null 2>&1 || true' EXIT
"$bin" topic create smoke --partitions 3 --data-dir "$data"
seq 1 1000 | "$bin" produce smoke --data-dir "$data"
n=$("$bin" consume smoke --data-dir "$data" --format raw | wc -l)
if [ "$n" != 1000 ]; then echo "smoke: consumed $n records, want 1000"; exit 1; fi
if "$bin" consume nosuch --data-dir "$data" 2>/dev/null; then echo "smoke: unknown topic exited 0"; exit 1; else
	code=$?; [ "$code" = 2 ] || { echo "smoke: unknown topic exited $code, want 2"; exit 1; }
fi

# The README's first command: serve the e-commerce demo, feed it over HTTP, watch it.
kport=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
hport=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
abs_bin=$(cd "$(dirname "$bin")" && pwd)/$(basename "$bin")
mkdir -p "$data/demo"
(cd "$data/demo" && exec env -u TIDE_DEMO_POSTGRES_URL -u TIDE_DEMO_WEBHOOK_URL "$abs_bin" serve --data-dir data \
	--kafka-addr "127.0.0.1:$kport" --http-addr "127.0.0.1:$hport" --sql-dir "$root/examples/ecommerce") >"$data/serve.log" 2>&1 &
serve_pid=$!
for _ in $(seq 100); do curl -sf "127.0.0.1:$hport/readyz" >/dev/null && break; sleep 0.1; done
curl -sf -H 'Content-Type: application/x-ndjson' --data-binary @examples/ecommerce/orders.ndjson \
	"127.0.0.1:$hport/v1/topics/orders/records?key=order_id" >/dev/null || { echo "smoke: ingest failed"; cat "$data/serve.log"; exit 1; }
paid="" dlq=""
for _ in $(seq 50); do
	paid=$("$bin" consume paid_orders --server "127.0.0.1:$kport" --format raw 2>/dev/null | grep -c order_id || true)
	dlq=$("$bin" consume paid_orders.dlq --server "127.0.0.1:$kport" --format raw 2>/dev/null | grep -c order_id || true)
	[ "$paid" = 3 ] && [ "$dlq" = 2 ] && break; sleep 0.2
done
view=""
for _ in $(seq 50); do
	view=$(curl -sf "127.0.0.1:$hport/v1/views/orders_by_status?key=paid" || true)
	case "$view" in *'"orders":3'*'"amount":812.40'*) break ;; esac; sleep 0.2
done
case "$view" in *'"orders":3'*'"amount":812.40'*) ;; *) echo "smoke: the view orders_by_status answered $view, want 3 paid orders for 812.40"; cat "$data/serve.log"; exit 1 ;; esac
kill -TERM "$serve_pid"; wait "$serve_pid" || { echo "smoke: tide serve exited non-zero"; cat "$data/serve.log"; exit 1; }
[ "$paid" = 3 ] && [ "$dlq" = 2 ] || { echo "smoke: demo gave $paid paid orders (want 3) and $dlq dead letters (want 2)"; cat "$data/serve.log"; exit 1; }
files=$(cat "$data"/demo/exports/paid_orders/* | grep -c order_id)
[ "$files" = 3 ] || { echo "smoke: demo wrote $files paid orders to files, want 3"; exit 1; }
echo "smoke: ok"

step "done"
grep -E '^(ok|FAIL)\s' "$tools/go-test.log" | awk '/^ok/{p++} /^FAIL/{f++} END{printf "packages: %d passed, %d failed\n", p, f}'
