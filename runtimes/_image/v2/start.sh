#!/bin/bash
# Start a built function the way the v2 images do (open-runtimes 0.3.x start.sh): the executor
# mounts the artifact at /tmp/code.tar.gz and runs this as the image's CMD.
set -e
mkdir -p /usr/code-start
tar -zxf /tmp/code.tar.gz -C /usr/code-start
export OPEN_RUNTIMES_CODE_DIR=/usr/code-start
# The venv was built under /usr/builds; its packages are usable from here through PYTHONPATH.
if [ -d /usr/code-start/runtime-env ]; then
    export PYTHONPATH="$(echo /usr/code-start/runtime-env/lib/python3*/site-packages)"
fi
cd /usr/local/src
exec bash -c "$INTERNAL_RUNTIME_SERVER_COMMAND"
