"""Run as `python python_spare.py ADAPTER`: an instance started ahead of need. It loads the
standard library modules the adapter uses, then waits; one line on stdin releases it and the
adapter runs as if started as `python ADAPTER`. Any other end of stdin (the executor stopped it,
or died) ends it.

Two kinds, told apart by the release line:
- `go PORT`: started by the function's own venv python with the instance's environment
  (LocalExecutor.start_ahead, for `dev`'s next hot swap).
- `go PORT JSON`: started before the function had a build (executors/early.py, `dev`'s first
  deployments), on the venv's base interpreter with -S. JSON holds the instance's environment,
  folder and interpreter (the venv's python): the spare takes them, then runs `site` as that
  interpreter does at its start (the venv's site-packages, nothing of the host's).

Nothing of the function is loaded before the release. Standard library only, and no import of the
emulator (it runs on the function's interpreter).
"""
import os
import sys

# What the adapter imports itself; a module missing here is simply imported by the adapter later.
PRELOAD = ("contextvars", "heapq", "http", "importlib.util", "inspect", "io", "json", "secrets", "socket",
           "socketserver", "threading", "time", "traceback")


def main() -> None:
    adapter = os.path.abspath(sys.argv[1])
    # First: as for `python ADAPTER`, the adapter's folder leads the path, not this one (whose
    # module names a function's own could collide with).
    sys.path[0] = os.path.dirname(adapter)
    for name in PRELOAD:
        try:
            __import__(name)
        except ImportError:
            pass
    # A script's bytecode is never cached: compiling the adapter is ~13 ms of each start, done now.
    with open(adapter, "rb") as source:
        code = compile(source.read(), adapter, "exec")
    # The port is picked at the release, so no other server can have taken it meanwhile.
    word, _, rest = sys.stdin.readline().rstrip("\n").partition(" ")
    port, _, start = rest.partition(" ")
    if word != "go" or not port.isdigit():
        sys.exit(0)
    if start:
        become(start)
    os.environ["OPEN_RUNTIMES_PORT"] = port
    sys.stdin.close()
    sys.stdin = open(os.devnull)  # as an instance started the usual way has it
    sys.argv = sys.argv[1:]
    run_as_main(code, adapter)


def run_as_main(code, path: str) -> None:
    """Run a script's code as `python PATH` does: in a new `__main__` module, named alike."""
    import importlib.machinery
    import types

    module = types.ModuleType("__main__")
    module.__dict__.update(__file__=path, __loader__=importlib.machinery.SourceFileLoader("__main__", path),
                           __package__=None, __spec__=None, __cached__=None)
    sys.modules["__main__"] = module
    exec(code, module.__dict__)


def become(start: str) -> None:
    """Take the environment, folder and interpreter an early spare is released with."""
    import json

    try:
        given = json.loads(start)
        env, cwd, executable = dict(given["env"]), given["cwd"], given["executable"]
    except (ValueError, KeyError, TypeError):
        sys.exit(0)
    os.environ.clear()
    os.environ.update(env)
    os.chdir(cwd)
    if sys.flags.no_site:
        sys.executable = executable
        import site

        site.main()  # what `executable` does at its start: finds its pyvenv.cfg, adds its site-packages


if __name__ == "__main__":
    main()
