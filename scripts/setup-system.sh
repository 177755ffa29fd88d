#!/usr/bin/env bash
# Installs the system programs raftkit's pictures, TLC and their tests need, when they are missing:
#   dot (Debian's graphviz)           renders state graphs and cluster diagrams to SVG/PNG
#   chromium + chromium-driver        opens the HTML report in a real browser in the tests
#   java (Debian's default-jre-headless) runs TLC beside raftmc (raftmc bench --tlc, the tests
#                                     that compare their counts); the jar comes with pip
#   a C compiler and Python's headers (gcc, libc6-dev, python3-dev) build the checker's optional
#                                     C loop at pip install; without them the install still
#                                     succeeds and the checker runs its (slower) Python loop
# Idempotent: a machine that has them is left alone and nothing is downloaded.
# Needs root (or sudo) only when something is missing; Debian/Ubuntu (apt-get) only.
set -euo pipefail

missing=()
command -v dot >/dev/null 2>&1 || missing+=(graphviz)
command -v chromium >/dev/null 2>&1 || missing+=(chromium)
command -v chromedriver >/dev/null 2>&1 || missing+=(chromium-driver)
command -v java >/dev/null 2>&1 || missing+=(default-jre-headless)
if ! command -v cc >/dev/null 2>&1 && ! command -v gcc >/dev/null 2>&1; then
    missing+=(gcc libc6-dev)
fi
# Debian's python3-dev holds the headers of Debian's python3 only: a Python from elsewhere
# (pyenv, a distribution of its own) brings its own, and its missing headers are not apt's.
if ! python3 -c 'import os, sys, sysconfig
sys.exit(not os.path.exists(os.path.join(sysconfig.get_paths()["include"], "Python.h")))' \
        2>/dev/null && [ "$(command -v python3)" = /usr/bin/python3 ]; then
    missing+=(python3-dev)
fi

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
