"""Hot swap: a new deployment made of a ready deployment's build with new source files laid over it.

For interpreted runtimes whose dependencies did not change, reinstalling them (pip, npm) is what
makes a rebuild slow. A hot swap skips it: the new deployment's build is the base deployment's
build (venv, node_modules and all), with the files of the new source archive written over it and
the files the new source no longer has removed. This is what `appwrite run function` does with its
`build.tar.gz` (docs/runtime-contract.md, "appwrite run function"), done per deployment so the base keeps
serving until the caller activates the new one.

Local executor: the build directory is copied as hard links (no extra space); new files replace
links instead of writing through them, so the base's files never change. Linking a venv or a
node_modules tree still costs ~0.1 ms per file, so `prepare_hotswap` can stage the next swap ahead
of time, while the developer is still typing: it reserves the next deployment id and link-copies
the base build into that deployment's directory. The swap then only overlays the changed files.
The caller may also start the staged deployment's instance ahead (`Executor.start_ahead`, dev's
deploy.py); dropping the staged swap stops it.
Docker executor: the base's `output.tar.gz` is unpacked, overlaid and packed again.
"""
from __future__ import annotations

import asyncio
import math
import os
import shutil
import tarfile
import time
from pathlib import Path

from ..archives import ArchiveError, extract_archive, inspect_archive
from ..errors import AppwriteError
from ..ids import unique_id
from ..languages import language_for_runtime
from ..languages.base import BuildError
from .builds import MAX_BUILD_LOG_CHARS
from .deployments import _new_deployment, get_deployment
from .functions import activate_deployment, get_function, refresh_latest_deployment
from .state import StagedSwap, State, deployment_key


def _lock(state: State, project: str, function_id: str) -> asyncio.Lock:
    return state.hotswap_locks.setdefault((project, function_id), asyncio.Lock())


async def prepare_hotswap(state: State, project: str, function_id: str, base_deployment_id: str) -> str:
    """Stage the next hot swap onto a ready deployment: returns the id the swapped deployment will
    get, its build directory already linked from the base ("" when the base has no build dir).
    Idempotent; a swap staged onto another base is dropped."""
    base_build = state.deployment_dir(project, function_id, base_deployment_id) / "build"
    if not base_build.is_dir() or _runs_from_archive(state, get_function(state, project, function_id)):
        return ""
    key = (project, function_id)
    async with _lock(state, project, function_id):
        current = state.staged_swaps.get(key)
        if current and current.base_id == base_deployment_id and \
                (state.deployment_dir(project, function_id, current.staged_id) / "build").is_dir():
            return current.staged_id
        await _drop_staged(state, project, function_id)
        staged_id = unique_id()
        await asyncio.to_thread(_link_tree, base_build, state.deployment_dir(project, function_id, staged_id) / "build")
        state.staged_swaps[key] = StagedSwap(base_deployment_id, staged_id)
        return staged_id


async def discard_hotswap(state: State, project: str, function_id: str) -> str:
    """Drop the staged swap of a function (a full build comes instead). Returns its id, or ""."""
    async with _lock(state, project, function_id):
        return await _drop_staged(state, project, function_id)


async def _drop_staged(state: State, project: str, function_id: str) -> str:
    item = state.staged_swaps.pop((project, function_id), None)
    if item is None:
        return ""
    if state.store.get("deployments", project, function_id, item.staged_id) is None:
        # An instance started ahead on it (Executor.start_ahead) goes with it.
        function = state.store.get("functions", project, "", function_id) or {}
        await state.executor_for(function).stop_deployment(deployment_key(project, item.staged_id))
        await asyncio.to_thread(state.remove_tree, state.deployment_dir(project, function_id, item.staged_id))
    return item.staged_id


def _link_tree(src: Path, dest: Path) -> None:
    partial = dest.with_name(dest.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    partial.parent.mkdir(parents=True, exist_ok=True)
    shutil.copytree(src, partial, symlinks=True, copy_function=_link_or_copy)
    os.rename(partial, dest)


async def hotswap_deployment(state: State, project: str, function_id: str, base_deployment_id: str,
                             source: bytes, *, activate: bool = False) -> dict:
    """Create a deployment from `source` (tar.gz) on top of the ready build of `base_deployment_id`.

    Returns the deployment document, `ready` or `failed` (with the reason in `buildLogs`).
    With `activate`, a ready result becomes the function's active deployment."""
    function = get_function(state, project, function_id)
    base = get_deployment(state, project, function_id, base_deployment_id)
    if base.get("status") != "ready":
        raise AppwriteError("build_not_ready")
    language = language_for_runtime(function["runtime"], state.settings.toolchains)
    if language is None or language.compiled:
        raise AppwriteError("general_argument_invalid",
                            f"Runtime {function['runtime']} is compiled: its source cannot be hot-swapped, build it.")
    base_dir = state.deployment_dir(project, function_id, base_deployment_id)
    async with _lock(state, project, function_id):
        staged = state.staged_swaps.get((project, function_id))
        if staged and staged.base_id == base_deployment_id:
            state.staged_swaps.pop((project, function_id))
            deployment_id = staged.staged_id
        else:
            await _drop_staged(state, project, function_id)
            deployment_id = unique_id()
        doc = _new_deployment(state, project, function_id, deployment_id,
                              entrypoint=function.get("entrypoint") or base.get("entrypoint", ""),
                              commands=base.get("commands", ""), activate=activate, size=len(source), chunks_total=1,
                              kind="cli")
        ddir = state.deployment_dir(project, function_id, deployment_id)
        ddir.mkdir(parents=True, exist_ok=True)
        (ddir / "source.tar.gz").write_bytes(source)
        doc.update(chunksUploaded=1, status="building")
        state.store.update("deployments", project, function_id, doc)
        refresh_latest_deployment(state, project, function_id)

        started = time.monotonic()
        logs = [f"Hot swap onto the build of deployment {base_deployment_id}: dependencies reused, not reinstalled.\n"]
        try:
            await asyncio.to_thread(_overlay_deployment, base_dir, ddir, language, doc["entrypoint"], logs.append,
                                    _runs_from_archive(state, function))
            ok = True
        except (ArchiveError, BuildError, OSError) as exc:
            logs.append(f"\nHot swap failed: {exc}\n")
            ok = False
    elapsed = time.monotonic() - started
    logs.append(f"Hot swap {'finished' if ok else 'failed'} in {elapsed * 1000:.0f} ms.\n")
    doc = state.store.get("deployments", project, function_id, deployment_id) or doc
    doc.update(status="ready" if ok else "failed", buildLogs="".join(logs)[-MAX_BUILD_LOG_CHARS:],
               buildDuration=max(1, math.ceil(elapsed)) if ok else math.ceil(elapsed),
               buildSize=base.get("buildSize", 0))
    doc["totalSize"] = doc.get("sourceSize", 0) + doc["buildSize"]
    state.store.update("deployments", project, function_id, doc)
    refresh_latest_deployment(state, project, function_id)
    if ok and activate:
        await activate_deployment(state, project, function_id, deployment_id)
    return doc


def _runs_from_archive(state: State, function: dict) -> bool:
    # Instances started from output.tar.gz (containers) need the archive rewritten, not the build dir.
    return state.executor_for(function).capabilities.runs_from_archive


def _members(archive: Path) -> set[str]:
    if not archive.is_file():
        return set()
    with tarfile.open(archive, "r:gz") as tar:
        return {os.path.normpath(m.name) for m in tar if not m.isdir()}


def _link_or_copy(src: str, dst: str) -> None:
    try:
        os.link(src, dst)
    except OSError:  # another file system, or links not allowed
        shutil.copy2(src, dst)


def _drop_bytecode(path: Path) -> None:
    # CPython trusts a .pyc whose recorded source mtime (seconds) and size match: an edit within
    # the same second that keeps the size would run the old code.
    cache = path.parent / "__pycache__"
    if path.suffix == ".py" and cache.is_dir():
        for pyc in cache.glob(f"{path.stem}.*.pyc"):
            pyc.unlink(missing_ok=True)


def _overlay(target: Path, overlay: Path, removed: set[str]) -> int:
    """Remove `removed` from `target`, then move every file of `overlay` into it. Returns files moved."""
    for rel in removed:
        path = target / rel
        if path.is_file() or path.is_symlink():
            path.unlink()
            _drop_bytecode(path)
    moved = 0
    for root, dirs, files in os.walk(overlay):
        rel_root = Path(root).relative_to(overlay)
        for d in dirs:
            if os.path.islink(os.path.join(root, d)):
                continue
            dest = target / rel_root / d
            if dest.is_symlink() or dest.is_file():
                dest.unlink()
            dest.mkdir(parents=True, exist_ok=True)
        for name in files + [d for d in dirs if os.path.islink(os.path.join(root, d))]:
            dest = target / rel_root / name
            if dest.is_dir() and not dest.is_symlink():
                shutil.rmtree(dest)
            # A rename replaces the directory entry: the base's hard-linked file is left as it was.
            os.replace(os.path.join(root, name), dest)
            _drop_bytecode(dest)
            moved += 1
    return moved


def _stale(name: str, replaced: set[str]) -> bool:
    if name in replaced:
        return True
    parent, _, file = name.rpartition("/")
    if os.path.basename(parent) == "__pycache__" and file.endswith(".pyc"):
        source = os.path.join(os.path.dirname(parent), file.split(".")[0] + ".py").lstrip("/")
        return source in replaced
    return False


def _overlay_archive(base: Path, source: Path, replaced: set[str], dest: Path) -> None:
    partial = dest.with_name(dest.name + ".partial")
    with tarfile.open(base, "r:gz") as old, tarfile.open(source, "r:gz") as new, \
            tarfile.open(partial, "w:gz", compresslevel=1) as out:
        for member in old:
            if member.isdir() or not _stale(os.path.normpath(member.name), replaced):
                out.addfile(member, old.extractfile(member) if member.isfile() else None)
        for member in new:
            out.addfile(member, new.extractfile(member) if member.isfile() else None)
    os.replace(partial, dest)


def _overlay_deployment(base_dir: Path, ddir: Path, language, entrypoint: str, log, from_archive: bool) -> None:
    source = ddir / "source.tar.gz"
    inspect_archive(source)
    new_files = _members(source)
    removed = _members(base_dir / "source.tar.gz") - new_files
    staging = ddir / "overlay"
    extract_archive(source, staging)
    try:
        if not from_archive and (base_dir / "build").is_dir():
            build = ddir / "build"
            if not build.is_dir():  # not staged ahead by prepare_hotswap
                _link_tree(base_dir / "build", build)
            moved = _overlay(build, staging, removed)
            log(f"Replaced {moved} source file(s), removed {len(removed)}.\n")
            # Non-compiled languages may still prepare sources (e.g. deno caches new imports).
            language.compile(build, entrypoint, log)
        elif from_archive and (base_dir / "output.tar.gz").is_file():
            # Rewritten at the archive level: the image's build output may hold links that only
            # make sense inside the container (a venv's bin/python3 -> /usr/bin/python3).
            _overlay_archive(base_dir / "output.tar.gz", source, new_files | removed, ddir / "output.tar.gz")
            log(f"Replaced {len(new_files)} source file(s), removed {len(removed)}.\n")
        else:
            raise BuildError("The base deployment has no build output to reuse.")
    finally:
        shutil.rmtree(staging, ignore_errors=True)
