#!/usr/bin/env bash
# Export benchmark: N subscribers (default 1,000,000) exported as CSV over HTTP by the service,
# against psql's \copy of the same columns (the links' 43-character tokens stood in for by md5
# text of the same length) from the same database in the same run.
# Starts its own PostgreSQL and service on 127.0.0.1; prints rows/s, the ratio and the service's peak RSS.
#   tests/bench/export.sh [N] [runs]
set -euo pipefail
cd "$(dirname "$0")/../.."
N=${1:-1000000} RUNS=${2:-3}
PG_PORT=${PG_PORT:-55440} APP_PORT=${APP_PORT:-5090} KEY=bench-admin-key-0123456789
source tests/bench/lib.sh
WORK=$(mktemp -d "$BENCH_TMP"/bench-export.XXXX)
cleanup() {
  [ -n "${APP_PID:-}" ] && kill "$APP_PID" 2>/dev/null || true
  stop_postgres "$WORK"
  rm -rf "$WORK"
}
trap cleanup EXIT
start_postgres "$WORK" "$PG_PORT"
PSQL=("$PG_BIN/psql" -h 127.0.0.1 -p "$PG_PORT" -U postgres -X -q)

dotnet build src/Subscriptions.Api -c Release -v q -nologo >/dev/null
ConnectionStrings__Subscriptions="Host=127.0.0.1;Port=$PG_PORT;Database=bench;Username=postgres" \
Admin__ApiKey=$KEY Subscriptions__PublicBaseUrl=http://127.0.0.1:$APP_PORT Smtp__From="Bench <news@bench.example>" ASPNETCORE_ENVIRONMENT=Production \
Logging__LogLevel__Default=Warning \
  dotnet src/Subscriptions.Api/bin/Release/net10.0/Subscriptions.Api.dll --urls "http://127.0.0.1:$APP_PORT" >"$WORK/app.log" 2>&1 &
APP_PID=$!
until curl -sf "http://127.0.0.1:$APP_PORT/health/ready" >/dev/null; do kill -0 "$APP_PID" || { cat "$WORK/app.log"; exit 1; }; sleep 0.1; done

echo "seeding $N subscribers..."
"${PSQL[@]}" bench <<SQL
INSERT INTO subscribers (email, email_as_typed, name, locale, created_at, updated_at)
SELECT 'reader' || i || '@example.org', 'Reader' || i || '@Example.org', 'Reader number ' || i, 'en-GB', now(), now()
FROM generate_series(1, $N) AS i;
INSERT INTO subscriptions (subscriber_id, list_id, status, created_at, updated_at, confirmed_at,
                           consent_at, consent_ip, consent_user_agent, consent_source, consent_text_version)
SELECT id, 1, 'confirmed', now(), now(), now(), now(), '192.0.2.1',
       'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36', 'https://news.example/newsletter/signup', '1'
FROM subscribers;
VACUUM ANALYZE;
SQL

# The baseline: the same columns, in the same order and join; the unsubscribe URL stands in as a
# string of the same length, since PostgreSQL cannot compute the service's HMAC.
COPY_SQL="\\copy (SELECT s.email_as_typed, s.name, l.slug, sub.status, sub.created_at, sub.confirmed_at, sub.unsubscribed_at, sub.consent_at, host(sub.consent_ip), sub.consent_user_agent, sub.consent_source, sub.consent_text_version, sub.consent_text_language, sub.utm_source, sub.utm_medium, sub.utm_campaign, s.locale, 'http://127.0.0.1:$APP_PORT/unsubscribe/' || md5(sub.id::text) || left(md5(s.id::text), 11), sup.reason IS NOT NULL, sup.reason, 'http://127.0.0.1:$APP_PORT/manage/' || md5(sub.id::text) || left(md5(s.id::text), 11) FROM subscriptions sub JOIN subscribers s ON s.id = sub.subscriber_id JOIN lists l ON l.id = sub.list_id LEFT JOIN suppressions sup ON sup.email = s.email AND sup.lifted_at IS NULL WHERE sub.status <> 'held' ORDER BY sub.id) TO '$WORK/copy.csv' WITH (FORMAT csv, HEADER)"

best() { sort -n | head -1; }
# CPU seconds (user + system) a process has used so far
cpu() { awk -v hz="$(getconf CLK_TCK)" '{print ($14 + $15) / hz}' "/proc/$1/stat"; }
copy_times=() http_times=() service_cpu=()
for _ in $(seq "$RUNS"); do
  start=$(date +%s.%N); "${PSQL[@]}" bench -c "$COPY_SQL"; end=$(date +%s.%N)
  copy_times+=("$(awk "BEGIN {print $end - $start}")")
  before=$(cpu "$APP_PID") start=$(date +%s.%N)
  curl -sf -H "Authorization: Bearer $KEY" "http://127.0.0.1:$APP_PORT/api/admin/export?format=csv" -o "$WORK/http.csv"
  end=$(date +%s.%N) after=$(cpu "$APP_PID")
  http_times+=("$(awk "BEGIN {print $end - $start}")")
  service_cpu+=("$(awk "BEGIN {print $after - $before}")")
done
rows=$(($(wc -l < "$WORK/http.csv") - 1))
[ "$rows" = "$N" ] || { echo "exported $rows rows, expected $N" >&2; exit 1; }
copy=$(printf '%s\n' "${copy_times[@]}" | best) http=$(printf '%s\n' "${http_times[@]}" | best)
peak=$(awk '/VmHWM/ {print $2}' "/proc/$APP_PID/status")
rest=$(awk '/VmRSS/ {print $2}' "/proc/$APP_PID/status")
printf '%-32s %12s %12s\n' "export of $N rows (best of $RUNS)" "seconds" "rows/s"
printf '%-32s %12.2f %12.0f\n' "psql \\copy (baseline)" "$copy" "$(awk "BEGIN {print $N / $copy}")"
printf '%-32s %12.2f %12.0f\n' "GET /api/admin/export csv" "$http" "$(awk "BEGIN {print $N / $http}")"
printf 'ratio service/baseline: %.2f   service peak RSS: %d MB (now %d MB)   CSV: %d MB (copy %d MB)\n' \
  "$(awk "BEGIN {print $copy / $http}")" $((peak / 1024)) $((rest / 1024)) \
  $(($(stat -c %s "$WORK/http.csv") / 1048576)) $(($(stat -c %s "$WORK/copy.csv") / 1048576))
# Where the time goes: the service's own CPU per export (all its threads), against the wall time.
printf 'service CPU per export: %s s (wall %s s)\n' "$(printf '%s ' "${service_cpu[@]}")" "$(printf '%s ' "${http_times[@]}")"
