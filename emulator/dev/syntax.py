"""Syntax checks a new deployment must pass before it goes live.

An adapter reports a function that does not load only in the response to the next execution (a
503), too late to keep the old deployment serving. So the changed files are parsed first: Python
in this process when the function's venv runs the same Python version (else by that venv's own
interpreter running check_python.py), JavaScript by a resident node process (node_parser.cjs),
PHP and Ruby by `php -l` and `ruby -c`.
"""
from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
import sys
import traceback
from pathlib import Path, PurePosixPath

from ..adopted_process import AdoptedProcess

CHECKERS = {".py": "python", ".js": "node", ".mjs": "node", ".cjs": "node", ".php": "php", ".rb": "ruby"}
SKIP_PARTS = {"node_modules", "runtime-env", "vendor", ".venv", "venv", "__pycache__"}
PYTHON_CHECK = Path(__file__).with_name("check_python.py")
NODE_PARSER = Path(__file__).with_name("node_parser.cjs")
NODE_PARSE_TIMEOUT = 10  # seconds for one file


async def _run(argv: list[str], cwd: Path) -> tuple[int, str]:
    proc = await asyncio.create_subprocess_exec(*argv, cwd=str(cwd), stdin=asyncio.subprocess.DEVNULL,
                                                stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT)
    out, _ = await proc.communicate()
    return proc.returncode, out.decode("utf-8", "replace")


NODE_PARSER_ARGV = ("node", "--experimental-vm-modules", "--no-warnings", str(NODE_PARSER))


def wants_node_parser(files) -> bool:
    """Whether checking `files` (paths relative to a function folder) needs the node parser."""
    return shutil.which("node") is not None and any(CHECKERS.get(PurePosixPath(rel).suffix) == "node" for rel in files)


def start_node_parser_early(files) -> subprocess.Popen | None:
    """The node parser for `files`, started before the event loop runs (`dev` starts it beside the
    server's imports: its start, ~50-90 ms, was the last step of a first Node deployment). Hand
    it to `SyntaxChecker(node_process=...)`. None when not needed or it could not start."""
    if not wants_node_parser(files):
        return None
    try:
        return subprocess.Popen(NODE_PARSER_ARGV, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                stderr=subprocess.DEVNULL)
    except OSError:
        return None


class NodeParser:
    """The resident parser process: a `node --check` process per file costs 50-150 ms on a busy
    machine, which would dominate a hot swap. Started on first use (or adopted: `early`), one per
    `SyntaxChecker`."""

    def __init__(self, early: subprocess.Popen | None = None):
        self.proc: asyncio.subprocess.Process | AdoptedProcess | None = None
        self.early = early
        self.pending: dict[int, asyncio.Future] = {}
        self.next_id = 0
        self.reader: asyncio.Task | None = None
        self._starting = asyncio.Lock()  # `prepare`'s start and a check's may overlap: one process

    async def start(self) -> None:
        """Start the process unless it runs (`dev` starts it with a Node function's first build,
        which then needs it, or before its server: `start_node_parser_early`)."""
        async with self._starting:
            if self.early is not None:
                early, self.early = self.early, None
                self.proc = await AdoptedProcess.adopt(early)
                self.reader = asyncio.ensure_future(self._read(self.proc))
            if self.proc is None or self.proc.returncode is not None:
                self.proc = await asyncio.create_subprocess_exec(
                    *NODE_PARSER_ARGV, stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
                    stderr=asyncio.subprocess.DEVNULL)
                self.reader = asyncio.ensure_future(self._read(self.proc))

    async def error(self, path: Path) -> str:
        """'' when the file parses, else the parser's message."""
        await self.start()
        self.next_id += 1
        future = asyncio.get_running_loop().create_future()
        self.pending[self.next_id] = future
        self.proc.stdin.write(json.dumps({"id": self.next_id, "file": str(path)}).encode() + b"\n")
        await self.proc.stdin.drain()
        return await asyncio.wait_for(future, NODE_PARSE_TIMEOUT)

    async def _read(self, proc) -> None:
        async for line in proc.stdout:
            msg = json.loads(line)
            future = self.pending.pop(msg["id"], None)
            if future is not None and not future.done():
                future.set_result(msg["error"])
        for future in self.pending.values():
            if not future.done():
                future.set_exception(ConnectionError("node parser exited"))
        self.pending.clear()

    async def close(self) -> None:
        if self.early is not None:  # never adopted
            self.early.kill()
            self.early.wait()
            self.early = None
        if self.proc is not None and self.proc.returncode is None:
            self.proc.kill()
            await self.proc.wait()
        if self.reader is not None:
            self.reader.cancel()


def _clean_node(output: str) -> str:
    keep = [ln for ln in output.splitlines()
            if ln.strip() and not ln.startswith("    at ") and not ln.startswith("Node.js v")]
    return "\n".join(keep)


def _same_python(code_dir: Path) -> bool:
    """Whether the function's venv runs this interpreter's Python version (then it parses the same)."""
    try:
        text = (code_dir / "runtime-env" / "pyvenv.cfg").read_text()
    except OSError:
        return False
    for line in text.splitlines():
        key, _, value = line.partition("=")
        if key.strip() in ("version", "version_info"):
            return value.strip().split(".")[:2] == [str(sys.version_info[0]), str(sys.version_info[1])]
    return False


def _compile_here(code_dir: Path, files: list[str]) -> tuple[int, str]:
    # In this process: spawning an interpreter would compete with the new instance for the CPU.
    errors = []
    for rel in files:
        try:
            compile((code_dir / rel).read_bytes(), rel, "exec", dont_inherit=True)
        except (SyntaxError, ValueError) as exc:
            errors.append("".join(traceback.format_exception_only(type(exc), exc)))
        except OSError:
            pass  # removed meanwhile: the next change deploys again
    return (1 if errors else 0), "".join(errors)


class SyntaxChecker:
    """Checks files of a function folder; owns the node parser process it starts (see `close`)."""

    def __init__(self, node_process: subprocess.Popen | None = None):
        """`node_process`: the node parser, if started before the event loop ran (`start_node_parser_early`)."""
        self.node = NodeParser(node_process)
        self._starting: asyncio.Task | None = None

    def prepare(self, files) -> None:
        """Start what checking `files` will need, in the background (the node parser, while a
        build runs, instead of next to the new instance's start)."""
        if self._starting is None and (self.node.early is not None or wants_node_parser(files)):
            self._starting = asyncio.ensure_future(self._start_node())

    async def _start_node(self) -> None:
        try:
            await self.node.start()
        except OSError:
            pass  # `check` starts it again, or falls back to `node --check`

    async def close(self) -> None:
        if self._starting is not None:
            self._starting.cancel()
            await asyncio.gather(self._starting, return_exceptions=True)
        await self.node.close()

    async def check(self, code_dir: Path, files: list[str]) -> str:
        """'' when every file parses, else the errors (paths relative to the function folder)."""
        code_dir = Path(os.path.abspath(code_dir))
        by_tool: dict[str, list[str]] = {}
        for rel in files:
            parts = PurePosixPath(rel).parts
            tool = CHECKERS.get(PurePosixPath(rel).suffix)
            if tool and not SKIP_PARTS.intersection(parts) and (code_dir / rel).is_file():
                by_tool.setdefault(tool, []).append(rel)
        tools, jobs = [], []
        if "python" in by_tool:
            venv_python = code_dir / "runtime-env" / "bin" / "python"
            python = str(venv_python) if venv_python.exists() else shutil.which("python3")
            if _same_python(code_dir):
                tools.append("python")
                jobs.append(asyncio.to_thread(_compile_here, code_dir, by_tool["python"]))
            elif python:
                tools.append("python")
                # -I: only the standard library, whatever the folder or the environment holds.
                jobs.append(_run([python, "-I", str(PYTHON_CHECK), *by_tool["python"]], code_dir))
        if "node" in by_tool and shutil.which("node"):
            tools += ["node"] * len(by_tool["node"])
            jobs += [self._check_node(code_dir, rel) for rel in by_tool["node"]]
        for tool, argv in (("php", ["php", "-l"]), ("ruby", ["ruby", "-c"])):
            if tool in by_tool and shutil.which(argv[0]):
                tools += [tool] * len(by_tool[tool])
                jobs += [_run([*argv, rel], code_dir) for rel in by_tool[tool]]
        errors = []
        for tool, (code, output) in zip(tools, await asyncio.gather(*jobs)):
            if code != 0:
                errors.append(_clean_node(output) if tool == "node" else output.strip())
        return "\n".join(e for e in errors if e)

    async def _check_node(self, code_dir: Path, rel: str) -> tuple[int, str]:
        try:
            error = await self.node.error(code_dir / rel)
        except (OSError, ConnectionError, asyncio.TimeoutError, ValueError):
            return await _run(["node", "--check", rel], code_dir)
        if not error:
            return 0, ""
        code, output = await _run(["node", "--check", rel], code_dir)
        # `node --check` names the line; it misses some ES module errors, which the parser reports.
        return 1, output.replace(f"{code_dir}/", "") if code else f"{rel}: {error}"
