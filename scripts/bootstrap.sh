#!/bin/sh
# Installs the Debian packages energywire needs to build and test.
#   scripts/bootstrap.sh          install what is missing (as root), or print
#                                 the apt-get line to run (otherwise, exit 1)
#   scripts/bootstrap.sh --check  exit 0 when everything is installed
# Idempotent: installed packages are left alone.
set -eu

PACKAGES="cmake make gcc clang libclang-rt-14-dev pkg-config libcmocka-dev libjansson-dev libuv1-dev libcbor-dev libssl-dev libpcap-dev openssl"

missing=""
for p in $PACKAGES; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
        missing="$missing $p"
    fi
done

if [ -z "$missing" ]; then
    [ "${1:-}" = "--check" ] || echo "bootstrap: all build and test dependencies are installed"
    exit 0
fi
if [ "${1:-}" = "--check" ]; then
    exit 1
fi

if ! command -v apt-get >/dev/null 2>&1; then
    echo "bootstrap: not a Debian-like system; please install:$missing" >&2
    exit 1
fi
if [ "$(id -u)" != "0" ]; then
    echo "bootstrap: missing packages:$missing" >&2
    echo "bootstrap: run as root:  apt-get install -y$missing" >&2
    exit 1
fi

echo "bootstrap: installing$missing"
export DEBIAN_FRONTEND=noninteractive
# Package lists may be absent on a fresh machine; refresh them once when an
# install attempt fails for lack of them.
if ! apt-get install -y -q --no-install-recommends $missing; then
    apt-get update -q
    apt-get install -y -q --no-install-recommends $missing
fi
