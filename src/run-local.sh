#!/usr/bin/env bash
# Runs the service on this machine with its dependencies as local processes, all on 127.0.0.1:
# PostgreSQL (Debian's package, installed if missing) and MailDev 2.2.1 (an SMTP catcher with a
# web UI, from npm). State lives in .local/ (git-ignored). Ctrl+C stops all three.
# --deps-only starts PostgreSQL and MailDev alone, for `dotnet run --project src/Subscriptions.Api`
# or an IDE (src/Subscriptions.Api/appsettings.Development.json points at them).
set -euo pipefail
cd "$(dirname "$0")/.."
DEPS_ONLY=false
[ "${1:-}" = "--deps-only" ] && DEPS_ONLY=true
ROOT=$PWD STATE=$PWD/.local
PG_PORT=${PG_PORT:-55432} SMTP_PORT=${SMTP_PORT:-1025} MAIL_UI_PORT=${MAIL_UI_PORT:-1080}
APP_URL=${APP_URL:-http://127.0.0.1:5080}
mkdir -p "$STATE"

as_postgres() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }

pg_bin() { ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1; }
if [ -z "$(pg_bin)" ] || [ ! -x "$(pg_bin)/initdb" ]; then
  echo "Installing PostgreSQL (Debian package)..."
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
fi
PG_BIN=$(pg_bin)
if ! command -v node >/dev/null; then
  echo "Installing Node.js (Debian package) for MailDev..."
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nodejs npm >/dev/null
fi
if [ ! -x "$STATE/maildev/node_modules/maildev/bin/maildev" ]; then
  echo "Installing MailDev 2.2.1 (npm)..."
  npm install --silent --no-fund --no-audit --prefix "$STATE/maildev" maildev@2.2.1 >/dev/null
fi

PGDATA=$STATE/pg/data
if [ ! -s "$PGDATA/PG_VERSION" ]; then
  mkdir -p "$STATE/pg"
  [ "$(id -u)" = 0 ] && chown postgres: "$STATE/pg"
  as_postgres "$PG_BIN/initdb" -D "$PGDATA" -U postgres -A trust -E UTF8 --no-locale >/dev/null
fi

pids=()
cleanup() {
  trap - EXIT INT TERM
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  as_postgres "$PG_BIN/pg_ctl" -D "$PGDATA" -m fast -w stop >/dev/null 2>&1 || true
}
trap cleanup EXIT INT TERM

as_postgres "$PG_BIN/pg_ctl" -D "$PGDATA" -l "$STATE/pg/log" -w \
  -o "-p $PG_PORT -k $STATE/pg -c listen_addresses=127.0.0.1" start >/dev/null
"$PG_BIN/psql" -h 127.0.0.1 -p "$PG_PORT" -U postgres -tAc "SELECT 1 FROM pg_database WHERE datname = 'subscriptions'" | grep -q 1 \
  || "$PG_BIN/createdb" -h 127.0.0.1 -p "$PG_PORT" -U postgres subscriptions

node "$STATE/maildev/node_modules/maildev/bin/maildev" --ip 127.0.0.1 -s "$SMTP_PORT" \
  --web-ip 127.0.0.1 -w "$MAIL_UI_PORT" >"$STATE/maildev.log" 2>&1 &
pids+=($!)

export ASPNETCORE_ENVIRONMENT=${ASPNETCORE_ENVIRONMENT:-Development}
export ConnectionStrings__Subscriptions="Host=127.0.0.1;Port=$PG_PORT;Database=subscriptions;Username=postgres"
export Smtp__Host=127.0.0.1 Smtp__Port=$SMTP_PORT Smtp__Security=None
export Subscriptions__PublicBaseUrl=$APP_URL
export Admin__ApiKey=${ADMIN_API_KEY:-local-admin-key-for-this-machine-only}

if $DEPS_ONLY; then
  cat <<INFO

  PostgreSQL   127.0.0.1:$PG_PORT (database subscriptions, user postgres)
  Mail web UI  http://127.0.0.1:$MAIL_UI_PORT   (SMTP on 127.0.0.1:$SMTP_PORT)
  Now: dotnet run --project src/Subscriptions.Api   (Development settings, http://127.0.0.1:5080). Ctrl+C here stops both.

INFO
  wait "${pids[-1]}"
  exit 0
fi

dotnet build "$ROOT/src/Subscriptions.Api" -c Release -v q -nologo >/dev/null
cat <<INFO

  Service      $APP_URL   (POST /api/subscriptions, /health/ready)
  Mail web UI  http://127.0.0.1:$MAIL_UI_PORT   (SMTP on 127.0.0.1:$SMTP_PORT)
  PostgreSQL   $ConnectionStrings__Subscriptions
  Admin key    $Admin__ApiKey   (curl -H "Authorization: Bearer \$KEY" $APP_URL/api/admin/stats)

INFO
dotnet run --project "$ROOT/src/Subscriptions.Api" -c Release --no-build --no-launch-profile -- --urls "$APP_URL" &
pids+=($!)
wait "${pids[-1]}"
