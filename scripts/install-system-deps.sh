#!/usr/bin/env bash
# The system packages the whole test suite needs: a python3 venv, PostgreSQL server binaries
# (the tests start their own throwaway server) and Debian's Chromium (the browser tests; never
# a downloaded browser). Installs what is missing when run as root; otherwise says what to do.
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive

have_initdb() {
    local bindir
    bindir=$(pg_config --bindir 2>/dev/null || true)
    [ -n "$bindir" ] && [ -x "$bindir/initdb" ] && return 0
    compgen -G '/usr/lib/postgresql/*/bin/initdb' >/dev/null && return 0
    command -v initdb >/dev/null
}

venv_works() {
    local dir
    dir=$(mktemp -d)
    python3 -m venv "$dir/venv" >/dev/null 2>&1 && rm -rf "$dir" && return 0
    rm -rf "$dir"
    return 1
}

missing=()
command -v make >/dev/null || missing+=(make)
command -v python3 >/dev/null && venv_works || missing+=(python3 python3-venv)
have_initdb || missing+=(postgresql)
# The browser tests drive Debian's Chromium (never a downloaded browser).
command -v chromium >/dev/null || missing+=(chromium)

if [ ${#missing[@]} -gt 0 ]; then
    if [ "$(id -u)" != 0 ]; then
        echo "missing system packages: ${missing[*]} (run 'sudo $0' or install them)" >&2
        exit 1
    fi
    echo "installing ${missing[*]}"
    # The tests start their own throwaway PostgreSQL server: do not create or start the
    # distribution's cluster while installing the server binaries.
    mkdir -p /etc/postgresql-common/createcluster.d
    echo "create_main_cluster = false" >/etc/postgresql-common/createcluster.d/ffwd-ci.conf
    policy=/usr/sbin/policy-rc.d
    if [ ! -e "$policy" ]; then
        printf '#!/bin/sh\nexit 101\n' >"$policy" && chmod +x "$policy"
        trap 'rm -f "$policy"' EXIT
    fi
    apt-get update
    apt-get install -y --no-install-recommends "${missing[@]}" </dev/null
fi

have_initdb || { echo "PostgreSQL server binaries (initdb) still missing" >&2; exit 1; }
venv_works || { echo "python3 -m venv does not work" >&2; exit 1; }
command -v chromium >/dev/null || { echo "chromium still missing" >&2; exit 1; }
