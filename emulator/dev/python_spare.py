"""Run by a function's own Python as `python python_spare.py ADAPTER`: an instance started ahead
of need (LocalExecutor.start_ahead, for `dev`'s next hot swap). It loads the standard library
modules the adapter uses, then waits; one line on stdin (`go PORT`) releases it and the adapter
runs as if started as `python ADAPTER`. Any other end of stdin (the executor stopped it, or died)
ends it.

Nothing of the function is loaded before the release: `dev` starts it on a staged hot swap whose
new source files are laid over the build only later. Standard library only, and no import of the
emulator (it runs inside the function's venv).
"""
import os
import sys

# What the adapter imports itself; a module missing here is simply imported by the adapter later.
PRELOAD = ("contextvars", "heapq", "http", "importlib.util", "inspect", "io", "json", "secrets", "socket",
           "socketserver", "threading", "time", "traceback")


def main() -> None:
    # First: as for `python ADAPTER`, the adapter's folder leads the path, not this one (whose
    # module names a function's own could collide with).
    sys.path[0] = os.path.dirname(os.path.abspath(sys.argv[1]))
    for name in PRELOAD:
        try:
            __import__(name)
        except ImportError:
            pass
    # "go PORT": the port is picked at the release, so no other server can have taken it meanwhile.
    release = sys.stdin.readline().split()
    if len(release) != 2 or release[0] != "go" or not release[1].isdigit():
        sys.exit(0)
    os.environ["OPEN_RUNTIMES_PORT"] = release[1]
    sys.stdin.close()
    sys.stdin = open(os.devnull)  # as an instance started the usual way has it
    import runpy

    sys.argv = sys.argv[1:]
    runpy.run_path(sys.argv[0], run_name="__main__")


if __name__ == "__main__":
    main()
