#!/bin/sh
# Runs once, when the primary's data directory is created (/docker-entrypoint-initdb.d/): lets a
# standby on the compose network stream from it. wal_level=replica and max_wal_senders=10 are
# PostgreSQL's defaults already; the official image's pg_hba.conf admits every database from the
# network but not replication.
set -eu
echo "host replication all all scram-sha-256" >> "$PGDATA/pg_hba.conf"
