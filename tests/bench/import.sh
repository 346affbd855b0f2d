#!/usr/bin/env bash
# Import benchmark: N rows (default 1,000,000) in the shape of this service's CSV export, generated
# as a file, imported through POST /api/admin/import into an empty database, against psql's
# "\copy ... from" of the same file into a staging table of the same shape, in the same run.
# Starts its own PostgreSQL and service on 127.0.0.1; prints rows/s, the ratio and the service's peak RSS.
#   tests/bench/import.sh [N]
set -euo pipefail
cd "$(dirname "$0")/../.."
N=${1:-1000000}
PG_PORT=${PG_PORT:-55445} APP_PORT=${APP_PORT:-5093} KEY=bench-admin-key-0123456789
source tests/bench/lib.sh
WORK=$(mktemp -d "$BENCH_TMP"/bench-import.XXXX)
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
  env Logging__LogLevel__Subscriptions.Api.Import=Information dotnet src/Subscriptions.Api/bin/Release/net10.0/Subscriptions.Api.dll --urls "http://127.0.0.1:$APP_PORT" >"$WORK/app.log" 2>&1 &
APP_PID=$!
until curl -sf "http://127.0.0.1:$APP_PORT/health/ready" >/dev/null; do kill -0 "$APP_PID" || { cat "$WORK/app.log"; exit 1; }; sleep 0.1; done

# The file: the export's columns, mixed statuses, consent evidence on most rows, quoted names.
echo "generating $N rows..."
"${PSQL[@]}" bench -c "COPY (SELECT 'Reader' || i || '@Example.org' AS email, 'Reader, number ' || i AS name, 'news' AS list,
    CASE WHEN i % 10 < 7 THEN 'confirmed' WHEN i % 10 < 9 THEN 'pending' ELSE 'unsubscribed' END AS status,
    to_char(t, 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"') AS signed_up_at,
    CASE WHEN i % 10 < 7 THEN to_char(t + interval '5 minutes', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"') END AS confirmed_at,
    CASE WHEN i % 10 = 9 THEN to_char(t + interval '30 days', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"') END AS unsubscribed_at,
    to_char(t, 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"') AS consent_at,
    format('10.%s.%s.%s', i / 65536 % 256, i / 256 % 256, i % 256) AS consent_ip,
    'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36' AS consent_user_agent,
    'https://news.example/newsletter/signup' AS consent_source, '1' AS consent_text_version, 'en' AS consent_text_language,
    'en-GB' AS locale, 'http://old.example/unsubscribe/' || md5(i::text) AS unsubscribe_url, 'false' AS suppressed, NULL AS suppressed_reason
  FROM generate_series(1, $N) AS i, LATERAL (SELECT timestamptz '2024-01-01 00:00:00+00' + i * interval '1 second' AS t) AS at)
  TO '$WORK/audience.csv' WITH (FORMAT csv, HEADER)"
chmod 644 "$WORK/audience.csv"

# The baseline: the same file into a staging table of the file's shape (typed as the import types it).
"${PSQL[@]}" bench -c "CREATE UNLOGGED TABLE import_baseline (email text, name text, list text, status text, signed_up_at timestamptz,
    confirmed_at timestamptz, unsubscribed_at timestamptz, consent_at timestamptz, consent_ip inet, consent_user_agent text,
    consent_source text, consent_text_version text, consent_text_language text, locale text, unsubscribe_url text,
    suppressed boolean, suppressed_reason text)"
start=$(date +%s.%N)
"${PSQL[@]}" bench -c "\\copy import_baseline FROM '$WORK/audience.csv' WITH (FORMAT csv, HEADER)"
end=$(date +%s.%N)
copy=$(awk "BEGIN {print $end - $start}")
"${PSQL[@]}" bench -c "DROP TABLE import_baseline; CHECKPOINT"

start=$(date +%s.%N)
curl -sf -H "Authorization: Bearer $KEY" -H "Content-Type: text/csv" --data-binary "@$WORK/audience.csv" \
  "http://127.0.0.1:$APP_PORT/api/admin/import?sendConfirmations=false" -o "$WORK/report.json"
end=$(date +%s.%N)
http=$(awk "BEGIN {print $end - $start}")
created=$(python3 -c "import json,sys; print(json.load(open(sys.argv[1]))['created'])" "$WORK/report.json")
[ "$created" = "$N" ] || { echo "created $created rows, expected $N: $(head -c 2000 "$WORK/report.json")" >&2; exit 1; }
peak=$(awk '/VmHWM/ {print $2}' "/proc/$APP_PID/status")
# CPU seconds (user + system) of the service and of this PostgreSQL's live processes (the service's pooled connections, which
# did the import, and the background writers; psql's finished sessions are not counted): which side bounds the import
cpu() { awk -v hz="$(getconf CLK_TCK)" '{s += ($14 + $15) / hz} END {printf "%.1f", s}' "$@"; }
service_cpu=$(cpu "/proc/$APP_PID/stat")
postgres_cpu=$(cpu $(pgrep -P "$(head -1 "$WORK/data/postmaster.pid")" | sed 's#.*#/proc/&/stat#'))
# run.sh reads the last four lines (the table)
printf 'CPU seconds: service %s, PostgreSQL %s (load average now: %s)\n' "$service_cpu" "$postgres_cpu" "$(cut -d' ' -f1-3 /proc/loadavg)"
grep -ho '"Message":"Import [^"]* done[^"]*"' "$WORK/app.log" | tail -1 || true
printf '%-32s %12s %12s\n' "import of $N rows" "seconds" "rows/s"
printf '%-32s %12.2f %12.0f\n' "psql \\copy from (baseline)" "$copy" "$(awk "BEGIN {print $N / $copy}")"
printf '%-32s %12.2f %12.0f\n' "POST /api/admin/import csv" "$http" "$(awk "BEGIN {print $N / $http}")"
printf 'ratio service/baseline: %.2f   service peak RSS: %d MB   file: %d MB\n' \
  "$(awk "BEGIN {print $copy / $http}")" $((peak / 1024)) $(($(stat -c %s "$WORK/audience.csv") / 1048576))
