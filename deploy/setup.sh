#!/usr/bin/env bash
# Installs everything mogile needs on a fresh machine; idempotent and quick when already done.
# Called by `npm start`, `npm test` and `npm run bench`.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
TOOLS=$ROOT/.tools/bin
NATS_VERSION=v2.12.15
FERRET_VERSION=v1.24.2
mkdir -p "$TOOLS"
log() { echo "[setup] $*" >&2; }

# npm dependencies
if [ ! -d node_modules/@nats-io/jetstream ] || [ package.json -nt node_modules/.package-lock.json ]; then
  log "installing npm dependencies"
  npm install --no-audit --no-fund --loglevel=error >&2
fi

# nats-server (pinned; Debian's 2.9 lacks features we use)
if ! "$TOOLS/nats-server" --version 2>/dev/null | grep -q "${NATS_VERSION}"; then
  log "building nats-server $NATS_VERSION"
  GOBIN=$TOOLS GOFLAGS=-mod=mod go install "github.com/nats-io/nats-server/v2@${NATS_VERSION}" >&2
fi

need_metadata=1
if [ -n "${MOGILE_MONGO_URL:-}" ] || command -v mongod >/dev/null 2>&1; then need_metadata=0; fi

if [ $need_metadata = 1 ]; then
  # FerretDB: `go install` leaves its version file empty and the binary refuses to start, so build
  # from the module source with the version written in
  if ! "$TOOLS/ferretdb" --version 2>/dev/null | grep -q "${FERRET_VERSION}"; then
    log "building FerretDB $FERRET_VERSION (about a minute)"
    SRC=$(cd /tmp && go mod download -json "github.com/FerretDB/FerretDB@${FERRET_VERSION}" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
    WORK=$(mktemp -d)
    cp -r "$SRC/." "$WORK/"
    chmod -R u+w "$WORK"
    echo "$FERRET_VERSION" > "$WORK/build/version/version.txt"
    (cd "$WORK" && go build -trimpath -o "$TOOLS/ferretdb" ./cmd/ferretdb) >&2
    rm -rf "$WORK"
  fi
  # PostgreSQL backend for FerretDB (see README: its SQLite backend cannot use indexes)
  if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
    log "installing PostgreSQL from Debian"
    export DEBIAN_FRONTEND=noninteractive
    SUDO=; [ "$(id -u)" = 0 ] || SUDO=sudo
    $SUDO apt-get install -y -q postgresql >&2 || { $SUDO apt-get update -q >&2 && $SUDO apt-get install -y -q postgresql >&2; }
  fi
fi
# openssl: the TLS test makes its own throwaway CA
if ! command -v openssl >/dev/null 2>&1; then
  log "installing openssl from Debian"
  export DEBIAN_FRONTEND=noninteractive
  SUDO=; [ "$(id -u)" = 0 ] || SUDO=sudo
  $SUDO apt-get install -y -q openssl >&2 || { $SUDO apt-get update -q >&2 && $SUDO apt-get install -y -q openssl >&2; }
fi
# test tools (npm test only): the AWS CLI, a second real S3 client, in a private virtualenv
if [ "${1:-}" = test ]; then
  # nftables: the hosts test drops packets at random on a "slow" link (kernels without netem)
  if [ "$(id -u)" = 0 ] && ! command -v nft >/dev/null 2>&1; then
    log "installing nftables from Debian (hosts test)"
    export DEBIAN_FRONTEND=noninteractive
    apt-get install -y -q nftables >&2 || { apt-get update -q >&2 && apt-get install -y -q nftables >&2; } || log "nftables not installed: the slow-link test runs without packet loss"
  fi
  # chromium: the dashboard test drives a real headless browser (playwright-core, no bundled browser)
  if [ ! -x /usr/bin/chromium ]; then
    log "installing chromium from Debian (dashboard test)"
    export DEBIAN_FRONTEND=noninteractive
    SUDO=; [ "$(id -u)" = 0 ] || SUDO=sudo
    $SUDO apt-get install -y -q chromium >&2 || { $SUDO apt-get update -q >&2 && $SUDO apt-get install -y -q chromium >&2; } || log "chromium NOT installed: test/dashboard.test.ts will fail until /usr/bin/chromium exists"
  fi
  AWSCLI_VERSION=1.46.3
  if ! "$ROOT/.tools/awscli/bin/aws" --version 2>/dev/null | grep -q "aws-cli/${AWSCLI_VERSION} "; then
    log "installing the AWS CLI $AWSCLI_VERSION (S3 tests) into .tools/awscli"
    PY=/usr/bin/python3; [ -x "$PY" ] || PY=python3
    rm -rf "$ROOT/.tools/awscli"
    if ! "$PY" -m venv "$ROOT/.tools/awscli" >&2; then
      export DEBIAN_FRONTEND=noninteractive
      SUDO=; [ "$(id -u)" = 0 ] || SUDO=sudo
      $SUDO apt-get install -y -q python3-venv >&2 || { $SUDO apt-get update -q >&2 && $SUDO apt-get install -y -q python3-venv >&2; }
      "$PY" -m venv "$ROOT/.tools/awscli" >&2
    fi
    "$ROOT/.tools/awscli/bin/pip" install -q --disable-pip-version-check "awscli==${AWSCLI_VERSION}" >&2
  fi
fi
log "ready"
