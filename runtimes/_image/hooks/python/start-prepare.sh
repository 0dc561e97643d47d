# Sourced by start.sh. Unbuffered, so a crashed server's last output reaches the container logs.
export PYTHONUNBUFFERED=1
# The venv was created as /usr/local/build/runtime-env and its scripts keep that path, so make the
# path lead to the extracted build before activating it.
if [ -d /usr/local/server/src/function/runtime-env ]; then
    rm -rf /usr/local/build
    ln -s /usr/local/server/src/function /usr/local/build
    . /usr/local/build/runtime-env/bin/activate
fi
