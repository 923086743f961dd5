#!/usr/bin/env bash
# A real, single-node Apache Kafka 4.x broker for Tide's interop tests, built
# from Maven Central jars (no tarball or container download is possible here).
#
#   scripts/peers/kafka.sh start DIR   format fresh KRaft storage in DIR/data and
#                                      start broker+controller (node.id=1) on free
#                                      loopback ports; writes DIR/bootstrap
#                                      (127.0.0.1:PORT), DIR/pid, DIR/kafka.log
#   scripts/peers/kafka.sh stop DIR    stop it (TERM, then KILL after 30 s) and
#                                      remove DIR/data, DIR/pid, DIR/bootstrap
#   scripts/peers/kafka.sh fetch       only download the jars (for warming a cache)
#
# The version is kafka.version in scripts/peers/kafka/pom.xml. Jars are cached in
# .tools/kafka-<version>/libs, Maven's own downloads in .tools/m2. `start` on a
# DIR whose broker is still running and answering prints its bootstrap and
# exits 0, so repeated `up.sh` calls are cheap; `stop` on a stopped DIR is a
# no-op. Environment: KAFKA_HEAP (default -Xmx512m -Xms256m),
# KAFKA_START_TIMEOUT seconds (default 90).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
tools="$root/.tools"
pom="$here/kafka/pom.xml"
version=$(sed -n 's:.*<kafka.version>\(.*\)</kafka.version>.*:\1:p' "$pom")
[ -n "$version" ] || { echo "kafka.sh: no kafka.version in $pom" >&2; exit 1; }
home="$tools/kafka-$version"
libs="$home/libs"

die() { echo "kafka.sh: $*" >&2; exit 1; }

# fetch copies kafka_2.13 and its runtime dependencies into $libs once.
fetch() {
	[ -f "$home/.complete" ] && return 0
	command -v mvn >/dev/null || die "mvn not found (Maven is needed to fetch Kafka $version)"
	command -v java >/dev/null || die "java not found (Kafka $version needs Java 17+)"
	mkdir -p "$home"
	(
		# Two concurrent starts must not both write libs/.
		if command -v flock >/dev/null; then flock 9; fi
		[ -f "$home/.complete" ] && exit 0
		echo "kafka.sh: fetching org.apache.kafka:kafka_2.13:$version from Maven Central into $libs" >&2
		rm -rf "$libs.tmp"
		if ! mvn -B -q -f "$pom" -Dmaven.repo.local="$tools/m2" \
			dependency:copy-dependencies -DincludeScope=runtime -DoutputDirectory="$libs.tmp" >"$home.fetch.log" 2>&1; then
			tail -n 40 "$home.fetch.log" >&2
			die "mvn dependency:copy-dependencies failed (log: $home.fetch.log)"
		fi
		[ -f "$libs.tmp/kafka_2.13-$version.jar" ] || die "kafka_2.13-$version.jar missing after mvn"
		rm -rf "$libs" && mv "$libs.tmp" "$libs"
		touch "$home/.complete"
	) 9>"$home.lock"
}

# free_port prints a loopback TCP port nobody listens on right now.
free_port() {
	if command -v python3 >/dev/null; then
		python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
		return
	fi
	local p
	for _ in $(seq 1 100); do
		p=$((20000 + RANDOM % 40000))
		if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then echo "$p"; return; fi
	done
	die "no free port found"
}

# port_open succeeds when something accepts TCP connections on 127.0.0.1:$1.
port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# ours succeeds when pid $1 is a live broker started by this script for DIR $2
# (so a recycled pid never gets killed).
ours() {
	[ -n "$1" ] && [ -r "/proc/$1/cmdline" ] && tr '\0' ' ' <"/proc/$1/cmdline" | grep -qF "kafka.Kafka $2/server.properties"
}

# cluster_id prints a random Kafka Uuid: 16 bytes, URL-safe base64, unpadded
# (Kafka's own Uuid.randomUuid also avoids a leading '-').
cluster_id() {
	local id
	while :; do
		id=$(head -c 16 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=')
		case "$id" in -*) ;; *) echo "$id"; return ;; esac
	done
}

start() {
	local dir=$1
	mkdir -p "$dir"
	dir=$(cd "$dir" && pwd)
	if [ -f "$dir/pid" ] && ours "$(cat "$dir/pid")" "$dir" && [ -f "$dir/bootstrap" ] &&
		port_open "$(cut -d: -f2 "$dir/bootstrap")"; then
		echo "kafka.sh: already running (pid $(cat "$dir/pid")) at $(cat "$dir/bootstrap")" >&2
		cat "$dir/bootstrap"
		return 0
	fi
	stop "$dir" 2>/dev/null || true
	fetch

	local t0 port cport
	t0=$(date +%s%N)
	port=$(free_port)
	cport=$(free_port)
	while [ "$cport" = "$port" ]; do cport=$(free_port); done

	rm -rf "$dir/data"
	mkdir -p "$dir/data"
	# Only what a single node needs differs from Kafka's defaults: internal
	# topics at replication factor 1 (at the default 3 a single node hangs),
	# no initial rebalance delay, auto-create on (Kafka's default anyway).
	cat >"$dir/server.properties" <<EOF
process.roles=broker,controller
node.id=1
controller.quorum.bootstrap.servers=127.0.0.1:$cport
listeners=PLAINTEXT://127.0.0.1:$port,CONTROLLER://127.0.0.1:$cport
advertised.listeners=PLAINTEXT://127.0.0.1:$port
inter.broker.listener.name=PLAINTEXT
controller.listener.names=CONTROLLER
listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT
log.dirs=$dir/data
num.partitions=1
auto.create.topics.enable=true
offsets.topic.replication.factor=1
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
group.initial.rebalance.delay.ms=0
EOF
	cat >"$dir/log4j2.properties" <<'EOF'
status = warn
appender.out.type = Console
appender.out.name = out
appender.out.layout.type = PatternLayout
appender.out.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = INFO
rootLogger.appenderRef.out.ref = out
logger.request.name = kafka.request.logger
logger.request.level = WARN
logger.statechange.name = state.change.logger
logger.statechange.level = WARN
EOF
	local heap
	read -r -a heap <<<"${KAFKA_HEAP:--Xmx512m -Xms256m}"
	local jvm=(java "${heap[@]}" -XX:+UseG1GC -XX:MaxGCPauseMillis=20
		-XX:+ExitOnOutOfMemoryError -Djava.awt.headless=true
		"-Dlog4j2.configurationFile=$dir/log4j2.properties" -cp "$libs/*")

	# KRaft storage: a one-voter dynamic quorum, as Kafka 4's quickstart does.
	if ! "${jvm[@]}" kafka.tools.StorageTool format --standalone \
		--cluster-id "$(cluster_id)" --config "$dir/server.properties" >"$dir/kafka.log" 2>&1; then
		cat "$dir/kafka.log" >&2
		die "formatting storage failed"
	fi

	local launcher=()
	command -v setsid >/dev/null && launcher=(setsid)
	"${launcher[@]}" "${jvm[@]}" kafka.Kafka "$dir/server.properties" >>"$dir/kafka.log" 2>&1 </dev/null &
	local pid=$!
	echo "$pid" >"$dir/pid"

	local deadline=$(($(date +%s) + ${KAFKA_START_TIMEOUT:-90}))
	until port_open "$port" && grep -q 'Kafka Server started' "$dir/kafka.log"; do
		if ! kill -0 "$pid" 2>/dev/null; then
			tail -n 40 "$dir/kafka.log" >&2
			rm -f "$dir/pid"
			die "broker exited during start-up (log: $dir/kafka.log)"
		fi
		if [ "$(date +%s)" -ge "$deadline" ]; then
			tail -n 40 "$dir/kafka.log" >&2
			stop "$dir" || true
			die "broker did not start within ${KAFKA_START_TIMEOUT:-90}s (log: $dir/kafka.log)"
		fi
		sleep 0.2
	done
	# A client's view too, when kcat is installed: metadata must list this broker.
	if command -v kcat >/dev/null && ! kcat -b "127.0.0.1:$port" -L -m 10 >/dev/null 2>&1; then
		stop "$dir" || true
		die "broker started but kcat -L failed"
	fi
	echo "127.0.0.1:$port" >"$dir/bootstrap"
	echo "kafka.sh: Kafka $version up at 127.0.0.1:$port (pid $pid) in $((($(date +%s%N) - t0) / 1000000)) ms" >&2
	cat "$dir/bootstrap"
}

stop() {
	local dir=$1
	[ -d "$dir" ] || return 0
	dir=$(cd "$dir" && pwd)
	if [ -f "$dir/pid" ]; then
		local pid
		pid=$(cat "$dir/pid")
		if ours "$pid" "$dir"; then
			kill -TERM "$pid" 2>/dev/null || true
			for _ in $(seq 1 150); do
				ours "$pid" "$dir" || break
				sleep 0.2
			done
			if ours "$pid" "$dir"; then
				echo "kafka.sh: broker $pid ignored SIGTERM for 30s; killing" >&2
				kill -KILL "$pid" 2>/dev/null || true
				sleep 0.5
			fi
		fi
	fi
	rm -rf "$dir/pid" "$dir/bootstrap" "$dir/data"
}

case "${1:-}" in
start) [ $# -eq 2 ] || die "usage: kafka.sh start DIR"; start "$2" ;;
stop) [ $# -eq 2 ] || die "usage: kafka.sh stop DIR"; stop "$2" ;;
fetch) fetch ;;
version) echo "$version" ;;
*) die "usage: kafka.sh start DIR | stop DIR | fetch | version" ;;
esac
