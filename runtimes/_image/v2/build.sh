#!/bin/bash
# Build a function the way the v2 images do (open-runtimes 0.3.x build.sh), minimally: copy the
# source from /usr/code, install its dependencies, pack /usr/code/code.tar.gz.
set -e
shopt -s dotglob
mkdir -p /usr/builds
cp -R /usr/code/* /usr/builds
cd /usr/builds
if [ -f requirements.txt ] && command -v python3 >/dev/null; then
    python3 -m venv runtime-env
    runtime-env/bin/pip install --no-cache-dir -r requirements.txt
fi
if [ -f package.json ] && command -v npm >/dev/null; then
    npm install
fi
tar --exclude code.tar.gz -zcf /usr/code/code.tar.gz .
