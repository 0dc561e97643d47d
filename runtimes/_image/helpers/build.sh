#!/bin/bash
# Build a function the way the v5 images do (open-runtimes helpers/lifecycle/build.sh), minimally:
# copy the source, run the install command, package the result with its entrypoint.
# Usage: bash helpers/build.sh '<install command>'
set -e
shopt -s dotglob

INPUT="${OPEN_RUNTIMES_BUILD_INPUT_DIR:-/mnt/code}"
OUTPUT="${OPEN_RUNTIMES_BUILD_OUTPUT_DIR:-/mnt/code}"
BUILD=/usr/local/build

# Hooks are sourced so that what they export (a venv on PATH) reaches the next steps.
hook() {
    if [ -f "/usr/local/server/hooks/$1.sh" ]; then
        . "/usr/local/server/hooks/$1.sh"
    fi
}

if [ -z "$(ls -A "$INPUT" 2>/dev/null)" ]; then
    echo "Error: No source code found. Ensure your source isn't empty."
    exit 1
fi

mkdir -p "$BUILD"
cp -R "$INPUT"/* "$BUILD"
cd "$BUILD"
hook build-prepare

bash -c "$1"

cd /usr/local/server
hook compile
hook pack

cd "$BUILD"
if [ -n "$OPEN_RUNTIMES_OUTPUT_DIRECTORY" ]; then
    if [ -z "$(ls -A "$OPEN_RUNTIMES_OUTPUT_DIRECTORY" 2>/dev/null)" ]; then
        echo "Error: No build output found. Ensure your output directory isn't empty."
        exit 1
    fi
    cd "$OPEN_RUNTIMES_OUTPUT_DIRECTORY"
fi

# Read back by start.sh: the entrypoint chosen at build time wins over the container's env.
{
    echo "OPEN_RUNTIMES_ENTRYPOINT=$(printf '%q' "$OPEN_RUNTIMES_ENTRYPOINT")"
    echo "OPEN_RUNTIMES_CLEANUP=${OPEN_RUNTIMES_CLEANUP:-none}"
    echo "OPEN_RUNTIMES_COMPRESSION=gzip"
} > .open-runtimes

tar --exclude code.tar.gz --exclude code.tar --exclude code.sqfs -zcf "$OUTPUT/code.tar.gz.partial" .
mv "$OUTPUT/code.tar.gz.partial" "$OUTPUT/code.tar.gz"
echo "Build finished."
