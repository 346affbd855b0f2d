#!/usr/bin/env bash
# Signup throughput with tracing unset, this checkout against another revision (default main), in
# the same run: each build on its own database of one PostgreSQL, rounds alternating A/B so that
# the machine's load drifts over both alike; no SMTP host (the mail waits in the outbox).
#   tests/bench/tracing-overhead.sh [revision, default main] [seconds per run, default 15] [rounds, default 3]
set -euo pipefail
cd "$(dirname "$0")/../.."
BASE_REV=${1:-main} DURATION=${2:-15} ROUNDS=${3:-3} PG_PORT=55460 APP_PORT=5093
command -v wrk >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null; }
source tests/bench/lib.sh
WORK=$(mktemp -d "$BENCH_TMP"/tracing.XXXX)
cleanup() { [ -n "${APP_PID:-}" ] && kill "$APP_PID" 2>/dev/null; stop_postgres "$WORK"; rm -rf "$WORK"; }
trap cleanup EXIT
start_postgres "$WORK" "$PG_PORT"
"$PG_BIN/psql" -h 127.0.0.1 -p "$PG_PORT" -U postgres -X -q -c "CREATE DATABASE base" postgres
mkdir "$WORK/base" && git archive "$BASE_REV" | tar -x -C "$WORK/base"
dotnet build "$WORK/base/src/Subscriptions.Api" -c Release -v q -nologo >/dev/null
dotnet build src/Subscriptions.Api -c Release -v q -nologo >/dev/null
cat > "$WORK/signup.lua" <<'LUA'
counter = 0
request = function()
  counter = counter + 1
  return wrk.format("POST", "/api/subscriptions", {["Content-Type"] = "application/json"},
    string.format('{"email":"t%d-%d-%d@example.org","consent":true}', math.random(1, 1000000000), counter, os.time()))
end
LUA
run() { # $1 = name, $2 = checkout, $3 = database
  ConnectionStrings__Subscriptions="Host=127.0.0.1;Port=$PG_PORT;Database=$3;Username=postgres;Maximum Pool Size=64" \
  Smtp__Host= Smtp__From="Bench <news@bench.example>" Admin__ApiKey=bench-admin-key-0123456789 Subscriptions__PublicBaseUrl=http://127.0.0.1:$APP_PORT \
  ASPNETCORE_ENVIRONMENT=Production Logging__LogLevel__Default=Warning Signup__MinimumResponseTime=00:00:00 \
  RateLimits__Signup__Burst=1000000000 RateLimits__Signup__PerMinute=1000000000 OTEL_EXPORTER_OTLP_ENDPOINT= \
    dotnet "$2/src/Subscriptions.Api/bin/Release/net10.0/Subscriptions.Api.dll" --urls "http://127.0.0.1:$APP_PORT" >>"$WORK/app.log" 2>&1 &
  APP_PID=$!
  until curl -sf "http://127.0.0.1:$APP_PORT/health/ready" >/dev/null; do
    kill -0 "$APP_PID" 2>/dev/null || { tail -5 "$WORK/app.log"; exit 1; }; sleep 0.05
  done
  wrk -t2 -c32 -d10s -s "$WORK/signup.lua" "http://127.0.0.1:$APP_PORT" >/dev/null # warm-up (tiered compilation)
  printf '%s %s\n' "$1" "$(wrk -t2 -c32 -d"${DURATION}s" -s "$WORK/signup.lua" "http://127.0.0.1:$APP_PORT" | awk '/Requests\/sec/ {print $2}')" | tee -a "$WORK/rps"
  kill "$APP_PID"; wait "$APP_PID" 2>/dev/null || true; APP_PID=
}
for _ in $(seq "$ROUNDS"); do
  run "$BASE_REV" "$WORK/base" base
  run this "$PWD" bench
done
awk '{ sum[$1] += $2; n[$1]++ } END { for (k in sum) printf "%s mean %.0f req/s over %d runs\n", k, sum[k] / n[k], n[k] }' "$WORK/rps"
