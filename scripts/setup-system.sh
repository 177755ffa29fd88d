#!/usr/bin/env bash
# Installs the system programs raftkit's pictures, TLC and their tests need, when they are missing:
#   dot (Debian's graphviz)           renders state graphs and cluster diagrams to SVG/PNG
#   chromium + chromium-driver        opens the HTML report in a real browser in the tests
#   java (Debian's default-jre-headless) runs TLC beside raftmc (raftmc bench --tlc, the tests
#                                     that compare their counts); the jar comes with pip
# Idempotent: a machine that has them is left alone and nothing is downloaded.
# Needs root (or sudo) only when something is missing; Debian/Ubuntu (apt-get) only.
set -euo pipefail

missing=()
command -v dot >/dev/null 2>&1 || missing+=(graphviz)
command -v chromium >/dev/null 2>&1 || missing+=(chromium)
command -v chromedriver >/dev/null 2>&1 || missing+=(chromium-driver)
command -v java >/dev/null 2>&1 || missing+=(default-jre-headless)

if [ ${#missing[@]} -eq 0 ]; then
    exit 0
fi

if ! command -v apt-get >/dev/null 2>&1; then
    echo "setup-system: missing ${missing[*]} and no apt-get here; install them by hand" >&2
    exit 1
fi

sudo=()
if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null 2>&1; then
        sudo=(sudo)
    else
        echo "setup-system: missing ${missing[*]}; run as root to install them" >&2
        exit 1
    fi
fi

echo "setup-system: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
"${sudo[@]}" apt-get update -qq >/dev/null
"${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
