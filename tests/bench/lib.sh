# Shared by the benchmark scripts: a throwaway PostgreSQL (Debian's, installed if missing) in a
# temporary folder, listening on 127.0.0.1:$PG_PORT with an empty database "bench".
#
# The folder is in memory (/dev/shm) when there is one. This machine's disk is a VM's: on a new
# cluster the same pgbench run fell from 1,400 to 470 tps within 20 s while pg_test_fsync showed
# 120 us per flush, so disk figures said more about the host than about us. In memory a flush
# costs nothing, for the baselines as for the service; the ratios compare CPU work.
BENCH_TMP=/tmp
[ -d /dev/shm ] && [ -w /dev/shm ] && BENCH_TMP=/dev/shm
PG_BIN=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
if [ ! -x "${PG_BIN:-}/pgbench" ]; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
  PG_BIN=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
fi

as_postgres() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }

# start_postgres WORK_DIR PORT
start_postgres() {
  chmod 755 "$1"
  [ "$(id -u)" = 0 ] && chown postgres: "$1"
  as_postgres "$PG_BIN/initdb" -D "$1/data" -U postgres -A trust -E UTF8 --no-locale >/dev/null
  as_postgres "$PG_BIN/pg_ctl" -D "$1/data" -l "$1/pg.log" -w -o "-p $2 -k $1 -c listen_addresses=127.0.0.1" start >/dev/null
  "$PG_BIN/psql" -h 127.0.0.1 -p "$2" -U postgres -X -q -c "CREATE DATABASE bench" postgres
}

# stop_postgres WORK_DIR
stop_postgres() { as_postgres "$PG_BIN/pg_ctl" -D "$1/data" -m fast -w stop >/dev/null 2>&1 || true; }
