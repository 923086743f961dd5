#!/usr/bin/env bash
# A throw-away PostgreSQL 15 cluster for Tide's tests, on a free loopback port,
# with wal_level=logical (for change data capture).
#
#   scripts/peers/postgres.sh start DIR   initdb DIR/data (once) and start it; prints
#                                         the connection URL (also in DIR/url)
#   scripts/peers/postgres.sh restart DIR restart it (fast shutdown: sessions are cut)
#   scripts/peers/postgres.sh stop DIR    stop it and remove DIR/data
#
# PostgreSQL refuses to run as root: under root the cluster is owned by and run
# as the `postgres` user (created by the Debian package), through runuser.
# `start` on a DIR whose server still answers prints its URL and exits 0.
set -euo pipefail

die() { echo "postgres.sh: $*" >&2; exit 1; }

bindir=${PG_BINDIR:-}
if [ -z "$bindir" ]; then
	for d in /usr/lib/postgresql/*/bin; do [ -x "$d/initdb" ] && bindir=$d; done
fi
[ -n "$bindir" ] && [ -x "$bindir/initdb" ] || die "PostgreSQL binaries (initdb, pg_ctl) not found; install postgresql-15 or set PG_BINDIR"

as_owner() {
	if [ "$(id -u)" = 0 ]; then
		runuser -u postgres -- "$@"
	else
		"$@"
	fi
}

free_port() {
	python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

cmd=${1:-}; dir=${2:-}
[ -n "$dir" ] || die "usage: postgres.sh start|stop DIR"
mkdir -p "$dir"
dir=$(cd "$dir" && pwd)

case "$cmd" in
start)
	if [ -f "$dir/url" ] && [ -f "$dir/port" ] && "$bindir/pg_isready" -q -h 127.0.0.1 -p "$(cat "$dir/port")"; then
		cat "$dir/url"; exit 0
	fi
	rm -rf "$dir/data"
	mkdir -p "$dir/data"
	[ "$(id -u)" = 0 ] && chown -R postgres "$dir" && chmod 755 "$dir"
	as_owner "$bindir/initdb" -D "$dir/data" -U tide --auth=trust -E UTF8 --no-locale >"$dir/initdb.log" 2>&1 ||
		{ tail -n 20 "$dir/initdb.log" >&2; die "initdb failed"; }
	port=$(free_port)
	cat >>"$dir/data/postgresql.conf" <<CONF
listen_addresses = '127.0.0.1'
port = $port
unix_socket_directories = ''
wal_level = logical
max_wal_senders = 10
max_replication_slots = 10
max_connections = 100
fsync = on
shared_buffers = 64MB
CONF
	echo "host replication all 127.0.0.1/32 trust" >>"$dir/data/pg_hba.conf"
	as_owner "$bindir/pg_ctl" -D "$dir/data" -l "$dir/data/server.log" -w -t 60 start >/dev/null ||
		{ tail -n 20 "$dir/data/server.log" >&2; die "pg_ctl start failed"; }
	echo "$port" >"$dir/port"
	url="postgres://tide@127.0.0.1:$port/postgres?sslmode=disable"
	echo "$url" >"$dir/url"
	echo "$url"
	;;
restart)
	[ -d "$dir/data" ] || die "no cluster in $dir"
	as_owner "$bindir/pg_ctl" -D "$dir/data" -l "$dir/data/server.log" -m fast -w -t 60 restart >/dev/null ||
		{ tail -n 20 "$dir/data/server.log" >&2; die "pg_ctl restart failed"; }
	;;
stop)
	if [ -d "$dir/data" ]; then
		as_owner "$bindir/pg_ctl" -D "$dir/data" -m fast -w stop >/dev/null 2>&1 || true
	fi
	rm -rf "$dir/data" "$dir/url" "$dir/port"
	;;
*) die "usage: postgres.sh start|restart|stop DIR" ;;
esac
