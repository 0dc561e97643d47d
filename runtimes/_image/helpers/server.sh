#!/bin/bash
# The start command Appwrite passes to every v5 runtime: run the image's server.
if [ -f /usr/local/server/hooks/server.sh ]; then
    . /usr/local/server/hooks/server.sh
else
    exec bash -c "$OPEN_RUNTIMES_SERVER_COMMAND"
fi
