#!/bin/bash
# Builds src/Subscriptions.Api/Dockerfile, unchanged, as TAG (default localhost/subscriptions-api:dev).
# With Podman (these machines; tests/run.sh installs it where no Docker engine answers): on the stand-in base images (build-dotnet-images.sh), never pulling,
# and with what the restore inside the build needs to reach NuGet the way this machine does: no
# nuget.config names a source, so it is nuget.org, resolved by this machine's DNS and reached through
# an egress proxy whose certificate authority only this machine's trust store knows
# (/usr/local/share/ca-certificates, merged into /etc/ssl/certs/ca-certificates.crt). The build's
# containers get the host's network and that bundle, mounted for the build only: neither image keeps it.
# Docker format, not OCI: an OCI image drops the Dockerfile's HEALTHCHECK.
# Without Podman (a Docker machine): a plain `docker build`, on the real base images from the registry.
set -euo pipefail
cd "$(dirname "$0")/../.."
TAG=${1:-localhost/subscriptions-api:dev}
if ! command -v podman >/dev/null; then
  exec docker build -f src/Subscriptions.Api/Dockerfile -t "$TAG" .
fi
export CONTAINERS_CONF=${CONTAINERS_CONF:-$PWD/tests/env/containers.conf}
exec podman build --format docker --pull=never --network host \
  --volume /etc/ssl/certs/ca-certificates.crt:/etc/ssl/certs/ca-certificates.crt:ro \
  -f src/Subscriptions.Api/Dockerfile -t "$TAG" .
