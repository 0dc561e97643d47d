#!/usr/bin/env bash
# Builds the Swift toolchain root the Swift tests build and run in (Debian trixie + swiftlang, see
# emulator/toolchain_root.py) once: it is cached under ~/.cache/appwrite-emulator by a hash of its
# definition, so a second run only checks. Needs root (debootstrap, chroot) and the Debian mirror
# (APPWRITE_EMULATOR_DEBIAN_MIRROR, default deb.debian.org). Measured on a 2-core machine: about
# 2 min and 2.6 GB.
set -euo pipefail
cd "$(dirname "$0")/.."

PY="${PYTHON:-.venv/bin/python}"
[ -x "$PY" ] || PY="$(command -v python3)"
as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }

if ! command -v debootstrap >/dev/null 2>&1; then
    as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap >/dev/null
fi
started=$(date +%s)
# The cache of the user running the tests, also when building through sudo.
as_root env APPWRITE_EMULATOR_CACHE="${APPWRITE_EMULATOR_CACHE:-$HOME/.cache/appwrite-emulator}" \
    "$PY" -m emulator.toolchain_root build swift
echo "[swift-root] ready after $(( $(date +%s) - started ))s"
