"""Deployments: uploads (single and chunked), listing, activation, cancel, duplicate, download, delete.

Chunked uploads follow Appwrite: 5 MiB chunks named by `Content-Range`, the first response's `$id`
comes back as `x-appwrite-id` on later chunks, which may arrive out of order and concurrently.
Chunks are written to disk as they come; when all are present the archive is assembled, checked
(archives.py) and queued for building.
"""
from __future__ import annotations

import asyncio
import contextlib
import os
import re
import shutil
from datetime import datetime, timezone
from pathlib import Path

from ..archives import ArchiveError, create_archive, inspect_archive
from ..errors import AppwriteError
from ..ids import check_uid, now_iso, parse_iso, unique_id
from .builds import canceled_logs
from .functions import get_function, refresh_latest_deployment
from .listing import list_documents
from .state import State, deployment_key

CHUNK_SIZE = 5 * 1024 * 1024
MAX_DEPLOYMENT_SIZE = 30_000_000
_RANGE = re.compile(r"^bytes ([0-9]{1,15})-([0-9]{1,15})/([0-9]{1,15})$")  # int() refuses 4300+ digits


def get_deployment(state: State, project: str, function_id: str, deployment_id: str) -> dict:
    get_function(state, project, function_id)
    doc = state.store.get("deployments", project, function_id, deployment_id)
    if doc is None:
        raise AppwriteError("deployment_not_found")
    return doc


def list_deployments(state: State, project: str, function_id: str, params: dict) -> tuple[int, list[dict]]:
    get_function(state, project, function_id)
    return list_documents(state.store, "deployments", project, function_id, params)


def _new_deployment(state: State, project: str, function_id: str, deployment_id: str, *, entrypoint: str,
                    commands: str, activate: bool, size: int, chunks_total: int, kind: str) -> dict:
    now = now_iso()
    doc = {
        "$id": deployment_id, "$createdAt": now, "$updatedAt": now, "type": kind, "resourceId": function_id,
        "resourceType": "functions", "entrypoint": entrypoint, "commands": commands, "sourceSize": size,
        "buildSize": 0, "totalSize": size, "buildId": "", "activate": activate, "status": "waiting",
        "buildLogs": "", "buildDuration": 0, "chunksTotal": chunks_total, "chunksUploaded": 0,
    }
    state.store.insert("deployments", project, function_id, doc)
    return doc


async def upload_deployment(state: State, project: str, function_id: str, params: dict, code,
                            content_range: str | None, upload_id: str | None, sdk_language: str) -> dict:
    function = get_function(state, project, function_id)
    entrypoint = params.get("entrypoint") or function.get("entrypoint") or ""
    if not entrypoint:
        raise AppwriteError("function_entrypoint_missing")
    commands = params["commands"] if params.get("commands") is not None else function.get("commands", "")
    if code is None:
        raise AppwriteError("storage_file_empty", "No file sent")
    if not code.filename.lower().endswith(".gz"):
        raise AppwriteError("storage_file_type_unsupported")
    data: bytes = code.data
    if content_range:
        match = _RANGE.match(content_range.strip())
        if not match:
            raise AppwriteError("storage_invalid_content_range")
        start, end, size = (int(g) for g in match.groups())
        if end >= size or start > end or end - start + 1 != len(data) or start % CHUNK_SIZE:
            raise AppwriteError("storage_invalid_content_range")
        chunks_total = -(-size // CHUNK_SIZE)
        index = start // CHUNK_SIZE
    else:
        size, chunks_total, index = len(data), 1, 0
    # Later chunks name their upload with `X-Appwrite-Id` (the emulator also takes it on a single
    # request): it becomes a row id and a folder name.
    deployment_id = check_uid("deploymentId", upload_id) if upload_id else unique_id()
    if size > MAX_DEPLOYMENT_SIZE:
        raise AppwriteError("deployment_invalid_file_size",
                            f"File size should be less than {MAX_DEPLOYMENT_SIZE // 1_000_000} MB (got {size} bytes).")
    if size == 0:
        raise AppwriteError("storage_file_empty", "The uploaded code archive is empty.")

    ddir = state.deployment_dir(project, function_id, deployment_id)  # checked before anything is written
    async with upload_lock(state, (project, function_id, deployment_id)):
        doc = state.store.get("deployments", project, function_id, deployment_id)
        if doc is None:
            if state.store.select("deployments", project, None, "id=?", (deployment_id,), limit=1):
                raise AppwriteError("deployment_not_found")  # id owned by another function
            kind = "cli" if sdk_language.lower() == "cli" else "manual"
            doc = _new_deployment(state, project, function_id, deployment_id, entrypoint=entrypoint,
                                  commands=commands, activate=params["activate"], size=size,
                                  chunks_total=chunks_total, kind=kind)
        if doc.get("chunksUploaded", 0) >= doc.get("chunksTotal", 1):
            return doc  # already complete: a retried chunk changes nothing
        chunk_dir = ddir / "chunks"
        chunk_dir.mkdir(parents=True, exist_ok=True)
        await asyncio.to_thread(_write, chunk_dir / f"{index:06d}", data)
        uploaded = len(os.listdir(chunk_dir))
        doc["chunksUploaded"] = uploaded
        if uploaded < doc["chunksTotal"]:
            return state.store.update("deployments", project, function_id, doc)
        try:
            await asyncio.to_thread(_assemble, chunk_dir, ddir / "source.tar.gz", size)
        except Exception as exc:  # a refused or failed upload leaves neither its row nor its files
            state.store.delete("deployments", project, function_id, deployment_id)
            state.remove_tree(ddir)
            refresh_latest_deployment(state, project, function_id)
            if isinstance(exc, ArchiveError):
                raise AppwriteError("storage_invalid_file", f"Invalid deployment archive: {exc}", 400)
            raise
        state.store.update("deployments", project, function_id, doc)
    refresh_latest_deployment(state, project, function_id)
    state.builds.enqueue(project, function_id, deployment_id)
    return doc


@contextlib.asynccontextmanager
async def upload_lock(state: State, key: tuple[str, str, str]):
    """One upload's chunks take turns. The entry lives on the state (one per app) while anyone
    holds or waits for it and is dropped by the last, on every path out, errors included."""
    entry = state.upload_locks.get(key)
    if entry is None:
        entry = state.upload_locks[key] = [asyncio.Lock(), 0]
    entry[1] += 1
    try:
        async with entry[0]:
            yield
    finally:
        entry[1] -= 1
        if entry[1] == 0:
            del state.upload_locks[key]


def _write(path: Path, data: bytes) -> None:
    tmp = path.with_suffix(".tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)


def _assemble(chunk_dir: Path, target: Path, size: int) -> None:
    tmp = target.with_suffix(".tmp")
    with open(tmp, "wb") as out:
        for name in sorted(os.listdir(chunk_dir)):
            with open(chunk_dir / name, "rb") as part:
                shutil.copyfileobj(part, out)
    shutil.rmtree(chunk_dir)
    if tmp.stat().st_size != size:
        tmp.unlink()
        raise ArchiveError(f"assembled upload has {tmp.stat().st_size if tmp.exists() else 0} bytes, expected {size}")
    try:
        inspect_archive(tmp)
    except ArchiveError:
        tmp.unlink()
        raise
    os.replace(tmp, target)


def duplicate_deployment(state: State, project: str, function_id: str, deployment_id: str,
                         activate: bool | None = None) -> dict:
    """A new deployment of the same source, as Appwrite's: it keeps the original's type and
    `activate` (unless `activate` says otherwise) but builds with the function's *current*
    entrypoint and commands, not the ones the original was built with."""
    function = get_function(state, project, function_id)
    old = get_deployment(state, project, function_id, deployment_id)
    src = state.deployment_dir(project, function_id, deployment_id) / "source.tar.gz"
    if not src.exists():
        raise AppwriteError("deployment_not_found", "Deployment source is missing; upload it again.")
    new_id = unique_id()
    ddir = state.deployment_dir(project, function_id, new_id)
    doc = _new_deployment(state, project, function_id, new_id, entrypoint=function.get("entrypoint", ""),
                          commands=function.get("commands", ""),
                          activate=bool(old.get("activate")) if activate is None else activate,
                          size=old.get("sourceSize", 0), chunks_total=1, kind=old.get("type", "manual"))
    ddir.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(src, ddir / "source.tar.gz")
    doc["chunksUploaded"] = 1
    state.store.update("deployments", project, function_id, doc)
    refresh_latest_deployment(state, project, function_id)
    state.builds.enqueue(project, function_id, new_id)
    return doc


async def cancel_deployment(state: State, project: str, function_id: str, deployment_id: str) -> dict:
    """Cancel a build that has not finished. The status is final at once; the build's processes are
    stopped now, and its worker adds the closing log line when it sees them end (one still waiting
    in the queue is never started, so the line is added here)."""
    doc = get_deployment(state, project, function_id, deployment_id)
    if doc.get("status") in ("ready", "failed"):
        raise AppwriteError("build_already_completed")
    if doc.get("status") == "canceled":
        return doc
    was_waiting = doc.get("status") == "waiting"
    doc["status"] = "canceled"
    started = parse_iso(doc.get("buildStartedAt") or "")
    doc["buildDuration"] = int((datetime.now(timezone.utc) - started).total_seconds()) if started else 0
    if was_waiting:
        doc["buildLogs"] = canceled_logs(doc.get("buildLogs") or "")
    state.store.update("deployments", project, function_id, doc)
    refresh_latest_deployment(state, project, function_id)
    if not was_waiting:
        function = get_function(state, project, function_id)
        await state.executor_for(function).stop_deployment(deployment_key(project, deployment_id))
    return doc


async def delete_deployment(state: State, project: str, function_id: str, deployment_id: str) -> None:
    get_deployment(state, project, function_id, deployment_id)
    folder = state.deployment_dir(project, function_id, deployment_id)  # checked before anything is deleted
    function = get_function(state, project, function_id)
    if function.get("deploymentId") == deployment_id:
        function["deploymentId"] = ""
        function["deploymentCreatedAt"] = ""
        state.store.update("functions", project, "", function)
    await state.executor_for(function).stop_deployment(deployment_key(project, deployment_id))
    state.store.delete("deployments", project, function_id, deployment_id)
    state.remove_tree(folder)
    refresh_latest_deployment(state, project, function_id)


async def download_path(state: State, project: str, function_id: str, deployment_id: str, kind: str) -> Path:
    get_deployment(state, project, function_id, deployment_id)
    ddir = state.deployment_dir(project, function_id, deployment_id)
    if kind == "output":
        path = ddir / "output.tar.gz"
        if not path.exists() and (ddir / "build").is_dir():
            await asyncio.to_thread(create_archive, ddir / "build", path)
    else:
        path = ddir / "source.tar.gz"
    if not path.exists():
        raise AppwriteError("deployment_not_found", "The deployment's file could not be found.")
    return path

