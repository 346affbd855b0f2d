#!/usr/bin/env bash
# Runs the whole test suite. Tests start PostgreSQL and MailDev (SMTP) with Testcontainers: where a Docker
# engine answers, it is used as is; otherwise (machines of this kind: no engine, no registry)
# Podman is installed and started as the Docker-API engine and the images are built locally.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! docker info >/dev/null 2>&1; then
  echo "No Docker engine: provisioning Podman and local images (first run ~7 min, 4 of them the .NET base image stand-ins)."
  eval "$(tests/env/start-engine.sh "${PODMAN_RUN_DIR:-/run/podman-tc}")"
  tests/env/build-postgres-image.sh
  tests/env/build-maildev-image.sh
  # stand-ins of the .NET base images the Dockerfile names, for the container image test
  tests/env/build-dotnet-images.sh
  export PG_IMAGE=localhost/postgres:15 MAILDEV_IMAGE=localhost/maildev:2.2.1
fi

# PostgreSQL's own binaries (Debian's, the tests' server version) for the hot standby the replica tests stream
# to from the Testcontainers primary (tests/.../Infrastructure/StandbyServer.cs); PG_BINDIR names others.
if [ -z "${PG_BINDIR:-}" ] && [ ! -x /usr/lib/postgresql/15/bin/pg_basebackup ]; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql-15 >/dev/null
fi

# Debian's Chromium for the browser tests (Playwright drives it; it downloads no browser of its own).
if [ ! -x /usr/bin/chromium ]; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
fi

# Debian's Prometheus, which the management port test runs against the service (started as a process, loopback only).
if [ ! -x /usr/bin/prometheus ]; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq prometheus >/dev/null
fi

# Debian's HAProxy and PgBouncer, which the topology tests run as processes in front of the service's
# instances and PostgreSQL (with src/deploy/'s configurations, loopback only), and docker-compose 1.29,
# which lints docker-compose.yml offline (no engine needed for `config`).
if [ ! -x /usr/sbin/haproxy ] || [ ! -x /usr/sbin/pgbouncer ] || ! command -v docker-compose >/dev/null; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends haproxy pgbouncer docker-compose >/dev/null
fi

# OpenAPI checkers independent of .NET: a validator of the document itself, and Prism, a proxy
# that checks real requests and responses against it.
# And the Standard Webhooks reference verifier (JavaScript), for the webhook receiver the tests run;
# and the official OTLP protobuf definitions, compiled (otlp-transformer 0.57 ships them with
# protobufjs; later releases do not), for the OTLP receiver.
if [ ! -f tests/.tools/node_modules/@seriousme/openapi-schema-validator/bin/validate-api-cli.js ] \
   || [ ! -f tests/.tools/node_modules/@stoplight/prism-cli/dist/index.js ] \
   || [ ! -f tests/.tools/node_modules/standardwebhooks/package.json ] \
   || [ ! -f tests/.tools/node_modules/@opentelemetry/otlp-transformer/build/src/generated/root.js ]; then
  command -v npm >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nodejs npm >/dev/null; }
  npm install --silent --no-fund --no-audit --prefix tests/.tools \
    @seriousme/openapi-schema-validator@2.11.0 @stoplight/prism-cli@5.16.0 standardwebhooks@1.1.1 \
    @opentelemetry/otlp-transformer@0.57.2 >/dev/null
fi

# The repository's .NET tools (.config/dotnet-tools.json): Kiota, which generates a client from the document.
dotnet tool restore >/dev/null

dotnet test Subscriptions.sln --configuration Release "$@"
echo "Browser screenshots: ${SUBSCRIPTIONS_SCREENSHOTS:-$PWD/TestResults/screenshots}"
