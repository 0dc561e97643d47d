"""Checking and unpacking deployment archives without trusting them.

An uploaded tar.gz may try to write outside its directory (`../x`, `/etc/x`), smuggle links that
point out, hide device files, or expand to something huge. `inspect_archive` rejects all of that
before anything is written; `extract_archive` then writes only regular files and directories, and
symlinks whose target stays inside the destination.
"""
from __future__ import annotations

import os
import posixpath
import shutil
import tarfile
from pathlib import Path

MAX_EXTRACTED_BYTES = 500 * 1024 * 1024
MAX_MEMBERS = 50_000


class ArchiveError(Exception):
    pass


def _check_name(name: str) -> str:
    if name.startswith("/") or name.startswith("\\") or (len(name) > 1 and name[1] == ":"):
        raise ArchiveError(f"Archive entry '{name}' has an absolute path.")
    norm = posixpath.normpath(name)
    if ".." in norm.split("/"):
        raise ArchiveError(f"Archive entry '{name}' points outside the deployment directory.")
    if "\x00" in name:
        raise ArchiveError(f"Archive entry '{name!r}' has an invalid name.")
    return norm


def inspect_archive(path: Path) -> tuple[int, int]:
    """Validate the archive; return (member count, total uncompressed bytes). Raises ArchiveError."""
    with open(path, "rb") as fh:
        magic = fh.read(2)
    if magic != b"\x1f\x8b":
        raise ArchiveError("The uploaded code is not a gzip-compressed tar archive (.tar.gz).")
    total = count = 0
    try:
        with tarfile.open(path, "r:gz") as tar:
            for member in tar:
                count += 1
                if count > MAX_MEMBERS:
                    raise ArchiveError(f"Archive has more than {MAX_MEMBERS} entries.")
                norm = _check_name(member.name)
                if member.issym() or member.islnk():
                    target = member.linkname
                    if member.issym():
                        resolved = posixpath.normpath(posixpath.join(posixpath.dirname(norm), target))
                    else:
                        resolved = posixpath.normpath(target)
                    if target.startswith("/") or resolved == ".." or resolved.startswith("../"):
                        raise ArchiveError(f"Archive entry '{member.name}' links outside the deployment directory ({target}).")
                elif not (member.isfile() or member.isdir()):
                    raise ArchiveError(f"Archive entry '{member.name}' is a device, FIFO or other special file.")
                total += max(member.size, 0)
                if total > MAX_EXTRACTED_BYTES:
                    raise ArchiveError(f"Archive expands to more than {MAX_EXTRACTED_BYTES // (1024 * 1024)} MB.")
    except (tarfile.TarError, EOFError, OSError, ValueError) as exc:
        raise ArchiveError(f"The uploaded code is not a valid tar.gz archive: {exc}")
    return count, total


def extract_archive(path: Path, dest: Path) -> None:
    """Extract a validated archive into `dest` (created; existing content removed)."""
    inspect_archive(path)
    if dest.exists():
        shutil.rmtree(dest)
    dest.mkdir(parents=True)
    root = dest.resolve()
    with tarfile.open(path, "r:gz") as tar:
        for member in tar:
            norm = _check_name(member.name)
            if norm in (".", ""):
                continue
            target = root / norm
            # Parents may be symlinks created by earlier entries: resolve and re-check.
            parent = target.parent.resolve()
            if parent != root and root not in parent.parents:
                raise ArchiveError(f"Archive entry '{member.name}' points outside the deployment directory.")
            if member.isdir():
                target.mkdir(parents=True, exist_ok=True)
            elif member.isfile():
                parent.mkdir(parents=True, exist_ok=True)
                src = tar.extractfile(member)
                with open(parent / target.name, "wb") as out:
                    shutil.copyfileobj(src, out)
                os.chmod(parent / target.name, (member.mode & 0o777) | 0o600)
            elif member.issym():
                parent.mkdir(parents=True, exist_ok=True)
                link = parent / target.name
                if link.exists() or link.is_symlink():
                    link.unlink()
                os.symlink(member.linkname, link)
            elif member.islnk():
                src = (root / posixpath.normpath(member.linkname)).resolve()
                if root not in src.parents:
                    raise ArchiveError(f"Archive entry '{member.name}' links outside the deployment directory.")
                parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(src, parent / target.name)


def create_archive(src_dir: Path, dest: Path) -> None:
    """Pack a directory as tar.gz (build outputs, downloads)."""
    tmp = dest.with_suffix(".tmp")
    with tarfile.open(tmp, "w:gz", compresslevel=1) as tar:
        for entry in sorted(os.listdir(src_dir)):
            tar.add(src_dir / entry, arcname=entry)
    os.replace(tmp, dest)
