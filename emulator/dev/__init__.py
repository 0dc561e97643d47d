"""`python -m emulator dev`: serve a project, deploy its functions, redeploy them as files change.

One module per job, like uvicorn's reloader, which is kept apart from the server it restarts:
- session.py  the command itself: start the server (emulator/server.py), run a `DevLoop` in it
- loop.py     `DevLoop`: ties the jobs below together and follows config edits
- deploy.py   the per-function deploy state machine (debounce, hot swap or full build, go live)
- syntax.py   syntax checks a new deployment must pass before it goes live
- watch.py    `WatchFilter` (which paths matter to which function) and the file watcher
- config.py   polling the project config file for edits
- console.py  terminal output
"""

# The quiet window after a change before it goes live (`dev --debounce`). Editors write a save in
# one burst of a few milliseconds; the window is what a save costs on top of the hot swap itself,
# which is prepared while it runs (deploy.py), so it is kept at about the swap's own duration.
DEBOUNCE_MS = 50

