#!/bin/sh
# A hot standby of the compose file's "postgres" (the primary), for the "topology" profile: on the
# first start, copies the primary with pg_basebackup (-R writes the standby's connection settings,
# -C -S a replication slot, so the primary keeps the WAL a stopped standby still needs), then runs
# PostgreSQL on that copy through the image's own entrypoint, which finds the data directory made
# and starts the server as the postgres user.
set -eu
if [ ! -s "$PGDATA/PG_VERSION" ]; then
  mkdir -p "$PGDATA"
  chown postgres:postgres "$PGDATA"
  chmod 700 "$PGDATA"
  export PGPASSWORD="$POSTGRES_PASSWORD"
  slot=standby_1
  if gosu postgres psql -h "$PRIMARY_HOST" -U "$POSTGRES_USER" -d postgres -tAc \
       "SELECT 1 FROM pg_replication_slots WHERE slot_name = '$slot'" | grep -q 1; then
    create=""
  else
    create="-C"
  fi
  gosu postgres pg_basebackup -h "$PRIMARY_HOST" -U "$POSTGRES_USER" -D "$PGDATA" -R -X stream $create -S "$slot" -c fast
fi
exec docker-entrypoint.sh postgres -c hot_standby=on
