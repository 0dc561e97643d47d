#!/usr/bin/env bash
# Make Docker usable for the docker executor's tests and bench: install docker.io and debootstrap
# when missing, start dockerd when no daemon answers (trying storage/network settings until a port
# published on 127.0.0.1 works), and build the test images. Idempotent: a second run only checks.
# Usage: .ci/docker-setup.sh [--no-images]
set -euo pipefail
cd "$(dirname "$0")/.."

PY="${PYTHON:-.venv/bin/python}"
[ -x "$PY" ] || PY="$(command -v python3)"

as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }

missing=()
command -v dockerd >/dev/null 2>&1 || missing+=(docker.io)
command -v debootstrap >/dev/null 2>&1 || missing+=(debootstrap)
if [ "${#missing[@]}" -gt 0 ]; then
    echo "[docker-setup] apt-get install -y ${missing[*]}"
    as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi

# The Docker SDK is what the emulator and the helper use to talk to the daemon.
"$PY" -c 'import docker' 2>/dev/null || "$PY" -m pip install -q 'docker>=7.0'

args=()
[ "${1:-}" = "--no-images" ] || args+=(--images)
if [ "$(id -u)" -eq 0 ]; then
    "$PY" tests/docker/docker_engine.py "${args[@]}"
else
    # Starting dockerd and debootstrap need root; the images are then usable by the docker group.
    sudo -E "$PY" tests/docker/docker_engine.py "${args[@]}"
fi
