#!/usr/bin/env bash
# Topology benchmark: signup throughput through HAProxy and PgBouncer (transaction mode, prepared
# statements off) with two instances, against one instance straight on PostgreSQL (prepared
# statements on, as run.sh's signup scenario), in the same run on the same database; between them,
# one of the two instances asked directly (PgBouncer's and the unprepared statements' share without
# HAProxy's). src/deploy/'s HAProxy and PgBouncer configurations, as the tests and docker-compose.yml
# run them. Also the CPU each part used per signup, which says what more cores would buy.
# Starts its own PostgreSQL, PgBouncer, HAProxy and three services on 127.0.0.1; no SMTP host (the
# mail waits in the outbox, as in run.sh's signup scenario).
#   tests/bench/topology.sh [seconds per measured run, default 20]
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD DURATION=${1:-20} WARMUP=${WARMUP:-30}
PG_PORT=${PG_PORT:-55460} BOUNCER_PORT=${BOUNCER_PORT:-56460} EDGE_PORT=${EDGE_PORT:-5095} DIRECT_PORT=${DIRECT_PORT:-5096}
APP_PORTS=(5097 5098) MANAGEMENT_PORTS=(9097 9098)
source tests/bench/lib.sh
if ! command -v wrk >/dev/null || [ ! -x /usr/sbin/haproxy ] || [ ! -x /usr/sbin/pgbouncer ]; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends wrk haproxy pgbouncer >/dev/null
fi
WORK=$(mktemp -d "$BENCH_TMP"/bench-topology.XXXX)
PIDS=()
cleanup() {
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
  stop_postgres "$WORK"
  rm -rf "$WORK"
}
trap cleanup EXIT
start_postgres "$WORK" "$PG_PORT"
PSQL=("$PG_BIN/psql" -h 127.0.0.1 -p "$PG_PORT" -U postgres -X -q -t -A)
dotnet build src/Subscriptions.Api -c Release -v q -nologo >/dev/null

# PgBouncer: the deployment's file with this machine's addresses in their place. PostgreSQL here
# trusts local connections; PgBouncer still checks the clients' password (scram-sha-256).
echo '"postgres" "bench"' > "$WORK/userlist.txt"
sed -e "s|^\* = .*|* = host=127.0.0.1 port=$PG_PORT|" -e "s|^listen_addr = .*|listen_addr = 127.0.0.1|" \
    -e "s|^listen_port = .*|listen_port = $BOUNCER_PORT|" -e "s|^auth_file = .*|auth_file = $WORK/userlist.txt|" \
    src/deploy/pgbouncer/pgbouncer.ini > "$WORK/pgbouncer.ini"
# as the postgres user when root (PgBouncer refuses root); its pid is looked up by this run's own
# configuration file (the $! of a backgrounded command here did not always name it)
if [ "$(id -u)" = 0 ]; then
  setpriv --reuid=postgres --regid=postgres --init-groups /usr/sbin/pgbouncer "$WORK/pgbouncer.ini" >"$WORK/pgbouncer.log" 2>&1 &
else
  /usr/sbin/pgbouncer "$WORK/pgbouncer.ini" >"$WORK/pgbouncer.log" 2>&1 &
fi
PIDS+=($!)
for _ in $(seq 100); do BOUNCER_PID=$(pgrep -f -- "pgbouncer $WORK/pgbouncer.ini" || true); [ -n "$BOUNCER_PID" ] && break; sleep 0.05; done
[ -n "$BOUNCER_PID" ] || { cat "$WORK/pgbouncer.log" >&2; exit 1; }
PIDS+=("$BOUNCER_PID")

# start_service NAME PORT CONNECTION_STRING [MANAGEMENT_PORT]: prints its pid once ready
start_service() {
  local management=${4:-}
  env ConnectionStrings__Subscriptions="$3" ASPNETCORE_ENVIRONMENT=Production Logging__LogLevel__Default=Warning \
    Subscriptions__PublicBaseUrl=http://127.0.0.1:$EDGE_PORT Smtp__From="Bench <news@bench.example>" \
    RateLimits__Signup__Burst=1000000000 RateLimits__Signup__PerMinute=1000000000 Signup__MinimumResponseTime=00:00:00 \
    Subscriptions__TrustedProxies__0=127.0.0.1 ${management:+Management__Urls=http://127.0.0.1:$management} \
    dotnet src/Subscriptions.Api/bin/Release/net10.0/Subscriptions.Api.dll --urls "http://127.0.0.1:$2" >>"$WORK/$1.log" 2>&1 &
  local pid=$!
  until curl -sf "http://127.0.0.1:${management:-$2}/health/ready" >/dev/null; do
    kill -0 "$pid" 2>/dev/null || { tail -5 "$WORK/$1.log" >&2; exit 1; }
    sleep 0.05
  done
  echo "$pid"
}
DIRECT="Host=127.0.0.1;Port=$PG_PORT;Database=bench;Username=postgres;Maximum Pool Size=64"
POOLED="Host=127.0.0.1;Port=$BOUNCER_PORT;Database=bench;Username=postgres;Password=bench;Maximum Pool Size=64;Max Auto Prepare=0"
DIRECT_PID=$(start_service direct $DIRECT_PORT "$DIRECT"); PIDS+=("$DIRECT_PID")
# As in run.sh: a service in use has readers already, analyzed.
"${PSQL[@]}" bench <<'SQL'
WITH s AS (
    INSERT INTO subscribers (email, email_as_typed, created_at, updated_at)
    SELECT 'reader' || i || '@example.org', 'reader' || i || '@example.org', now(), now() FROM generate_series(1, 100000) AS i
    RETURNING id)
INSERT INTO subscriptions (subscriber_id, list_id, status, created_at, updated_at, confirmed_at, consent_at, consent_text_version)
SELECT id, 1, 'confirmed', now(), now(), now(), now(), '1' FROM s;
VACUUM ANALYZE;
SQL
API_PIDS=()
for i in 0 1; do
  pid=$(start_service "api$((i + 1))" "${APP_PORTS[$i]}" "$POOLED" "${MANAGEMENT_PORTS[$i]}"); PIDS+=("$pid"); API_PIDS+=("$pid")
done
HAPROXY_BIND=127.0.0.1:$EDGE_PORT API_1=127.0.0.1:${APP_PORTS[0]} API_2=127.0.0.1:${APP_PORTS[1]} \
API_1_MANAGEMENT_PORT=${MANAGEMENT_PORTS[0]} API_2_MANAGEMENT_PORT=${MANAGEMENT_PORTS[1]} \
EDGE_REQUESTS_PER_10S=1000000000 HAPROXY_ADMIN_SOCKET=$WORK/haproxy.sock \
  /usr/sbin/haproxy -db -f src/deploy/haproxy/haproxy.cfg >"$WORK/haproxy.log" 2>&1 &
PIDS+=($!) HAPROXY_PID=$!
until [ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$EDGE_PORT/signup/thank-you")" = 200 ]; do
  kill -0 "$HAPROXY_PID" || { cat "$WORK/haproxy.log" >&2; exit 1; }
  sleep 0.05
done

cat > "$WORK/signup.lua" <<'LUA'
local counter = 0
function setup(thread) thread:set("tid", math.random(1, 1000000000)) end
request = function()
  counter = counter + 1
  return wrk.format("POST", "/api/subscriptions", {["Content-Type"] = "application/json"},
    string.format('{"email":"w%d-%d@example.org","consent":true}', tid, counter))
end
LUA
# CPU seconds (user + system) so far: of one process; of PostgreSQL (every server process, and
# what the postmaster reaped from backends that ended)
cpu() { awk -v hz="$(getconf CLK_TCK)" '{print ($14 + $15) / hz}' "/proc/$1/stat"; }
postgres_cpu() {
  local postmaster; postmaster=$(head -1 "$WORK/data/postmaster.pid")
  { for stat in /proc/[0-9]*/stat; do
      awk '$2 == "(postgres)" {print $14 + $15}' "$stat" 2>/dev/null
    done
    awk '{print $16 + $17}' "/proc/$postmaster/stat"; } | awk -v hz="$(getconf CLK_TCK)" '{s += $1} END {print s / hz}'
}
vacuum() { "${PSQL[@]}" bench -c "VACUUM ANALYZE"; }
# measure NAME URL: wrk's req/s, p50, p99, errors, and CPU ms per request of each part
measure() {
  vacuum
  local before_pg before_edge before_bouncer before_direct before_api1 before_api2
  before_pg=$(postgres_cpu) before_edge=$(cpu "$HAPROXY_PID") before_bouncer=$(cpu "$BOUNCER_PID")
  before_direct=$(cpu "$DIRECT_PID") before_api1=$(cpu "${API_PIDS[0]}") before_api2=$(cpu "${API_PIDS[1]}")
  wrk -t2 -c32 -d"${DURATION}s" --latency -s "$WORK/signup.lua" "$2" > "$WORK/$1.txt"
  local requests; requests=$(awk '/requests in/ {print $1}' "$WORK/$1.txt")
  per() { awk "BEGIN {printf \"%.3f\", ($1 - $2) * 1000 / $requests}"; }
  printf '%s %s %s %s pg=%s haproxy=%s pgbouncer=%s services=%s errors=%s\n' "$1" \
    "$(awk '/Requests\/sec/ {print $2}' "$WORK/$1.txt")" "$(awk '$1 == "50%" {print $2}' "$WORK/$1.txt")" "$(awk '$1 == "99%" {print $2}' "$WORK/$1.txt")" \
    "$(per "$(postgres_cpu)" "$before_pg")" "$(per "$(cpu "$HAPROXY_PID")" "$before_edge")" "$(per "$(cpu "$BOUNCER_PID")" "$before_bouncer")" \
    "$(awk "BEGIN {printf \"%.3f\", ($(cpu "$DIRECT_PID") - $before_direct + $(cpu "${API_PIDS[0]}") - $before_api1 + $(cpu "${API_PIDS[1]}") - $before_api2) * 1000 / $requests}")" \
    "$(awk '/Non-2xx|Socket errors/' "$WORK/$1.txt" | tr -s ' \n' '_' )"
}
warm_up() { wrk -t2 -c32 -d"${WARMUP}s" -s "$WORK/signup.lua" "$1" >/dev/null; }

warm_up "http://127.0.0.1:$DIRECT_PORT"
DIRECT_LINE=$(measure direct "http://127.0.0.1:$DIRECT_PORT")
warm_up "http://127.0.0.1:$EDGE_PORT"
TOPOLOGY_LINE=$(measure topology "http://127.0.0.1:$EDGE_PORT")
POOLED_LINE=$(measure pooled "http://127.0.0.1:${APP_PORTS[0]}")

field() { echo "$1" | awk -v n="$2" '{print $n}'; }
part() { echo "$1" | tr ' ' '\n' | sed -n "s/^$2=//p"; }
row() { # label line
  printf '%-44s %9s %9s %9s   %6s %8s %9s %8s\n' "$1" "$(field "$2" 2)" "$(field "$2" 3)" "$(field "$2" 4)" \
    "$(part "$2" services)" "$(part "$2" pg)" "$(part "$2" pgbouncer)" "$(part "$2" haproxy)"
}
printf '%-44s %9s %9s %9s   %s\n' "signup, wrk -t2 -c32, ${DURATION}s" "req/s" "p50" "p99" "CPU ms per signup: service(s) PostgreSQL PgBouncer HAProxy"
row "one instance, PostgreSQL direct (prepared)" "$DIRECT_LINE"
row "one instance through PgBouncer (unprepared)" "$POOLED_LINE"
row "two instances, HAProxy + PgBouncer" "$TOPOLOGY_LINE"
for line in "$DIRECT_LINE" "$POOLED_LINE" "$TOPOLOGY_LINE"; do
  errors=$(part "$line" errors); [ -n "$errors" ] && echo "$(field "$line" 1) errors: $errors"
done
printf 'ratio two instances behind HAProxy + PgBouncer / one instance direct: %s\n' \
  "$(awk "BEGIN {printf \"%.2f\", $(field "$TOPOLOGY_LINE" 2) / $(field "$DIRECT_LINE" 2)}")"
