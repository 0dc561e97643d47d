#!/bin/bash
# Start a built function the way the v5 images do (open-runtimes helpers/lifecycle/start.sh),
# minimally: extract the artifact into src/function, restore its build-time settings, run "$1".
# Usage: bash helpers/start.sh "bash helpers/server.sh"
set -e
shopt -s dotglob

FUNCTION=/usr/local/server/src/function
mkdir -p "$FUNCTION"

ARCHIVE=""
for candidate in /mnt/code/code.tar.gz /mnt/code/code.tar /mnt/code/code.gz; do
    if [ -f "$candidate" ]; then ARCHIVE="$candidate"; break; fi
done
if [ -z "$ARCHIVE" ]; then
    echo "Code archive not found."
    exit 1
fi
# The name does not say how it is compressed (compression "none" still writes code.tar.gz).
if [ "$(head -c 2 "$ARCHIVE" | od -An -tx1 | tr -d ' \n')" = "1f8b" ]; then
    tar -xzf "$ARCHIVE" -C "$FUNCTION"
else
    tar -xf "$ARCHIVE" -C "$FUNCTION"
fi

if [ -f "$FUNCTION/.open-runtimes" ]; then
    set -o allexport
    . "$FUNCTION/.open-runtimes"
    set +o allexport
fi

cd /usr/local/server
if [ -f /usr/local/server/hooks/start-prepare.sh ]; then
    . /usr/local/server/hooks/start-prepare.sh
fi

exec bash -c "$1"
