"""Run as a script by a function's own Python (`python check_python.py FILE...`): report files that
do not compile, exit 1 if any. Standard library only, and no import of the emulator: it runs
inside the function's venv, whose Python version may differ from the emulator's."""
import sys
import traceback


def main(files: list[str]) -> int:
    bad = 0
    for name in files:
        try:
            with open(name, "rb") as f:
                compile(f.read(), name, "exec", dont_inherit=True)
        except (SyntaxError, ValueError) as exc:
            bad = 1
            sys.stderr.write("".join(traceback.format_exception_only(type(exc), exc)))
    return bad


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
