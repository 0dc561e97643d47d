"""Checking and unpacking deployment archives without trusting them.

An uploaded tar.gz may try to write outside its directory (`../x`, `/etc/x`), smuggle links that
point out (directly, or through a chain of links such as `s -> .` then `e -> s/s/../../x`), write
through a link by reusing its name, hide device files, or expand to something huge.

Both functions first lay the archive out on a virtual tree (`_plan`): every member is placed where
the kernel would put it, resolving the links earlier members made, and any member or link that
would resolve outside the root is an error. `tarfile.data_filter` is applied to every member on top
(special files, modes). `inspect_archive` stops there (upload-time check: nothing is written).
`extract_archive` then writes the planned tree in three passes: directories and regular files
first, while no link exists on disk (so no write can go through one), then hard links as copies,
then the symbolic links, each already proven to resolve inside the destination.
Every place that unpacks a deployment archive on the host goes through `extract_archive`.
"""
from __future__ import annotations

import os
import shutil
import tarfile
from dataclasses import dataclass, field
from pathlib import Path

MAX_EXTRACTED_BYTES = 500 * 1024 * 1024
MAX_MEMBERS = 50_000
MAX_LINK_HOPS = 40  # the kernel's own limit on symlinks followed while resolving one path
# Where data_filter believes the archive goes: it must not exist, so its checks stay lexical.
_FILTER_ROOT = "/nonexistent-appwrite-emulator-archive-root"


class ArchiveError(Exception):
    pass


class _Outside(Exception):
    """A path resolved above the archive's root."""


@dataclass
class _Node:
    kind: str  # "dir" | "file" | "symlink"
    member_index: int = -1  # file: the member whose data it holds (a hard link: its source's)
    mode: int | None = None
    size: int = 0
    target: str = ""  # symlink: the link text


@dataclass
class _Plan:
    nodes: dict[tuple[str, ...], _Node] = field(default_factory=lambda: {(): _Node("dir")})
    count: int = 0
    total: int = 0


def _components(path: str) -> list[str]:
    return [part for part in path.split("/") if part not in ("", ".")]


def _resolve(nodes: dict[tuple[str, ...], _Node], start: tuple[str, ...], path: str,
             follow_last: bool) -> tuple[str, ...]:
    """Where `path`, taken relative to directory `start`, lands in the virtual tree: links are
    followed the way the kernel follows them (before any `..` that comes after them). Raises
    _Outside when it climbs above the root, ArchiveError on loops or a file used as a directory."""
    resolved = list(start)
    pending = list(reversed(_components(path) if not path.startswith("/") else ["/"]))
    hops = 0
    while pending:
        part = pending.pop()
        if part == "/":
            raise _Outside()
        if part == "..":
            if not resolved:
                raise _Outside()
            resolved.pop()
            continue
        here = (*resolved, part)
        node = nodes.get(here)
        last = not pending
        if node is not None and node.kind == "symlink" and (follow_last or not last):
            hops += 1
            if hops > MAX_LINK_HOPS:
                raise ArchiveError(f"Archive links loop or chain too deeply at '{'/'.join(here)}'.")
            if node.target.startswith("/"):
                raise _Outside()
            pending.extend(reversed(_components(node.target)))
            continue
        if node is not None and node.kind == "file" and not last:
            raise ArchiveError(f"Archive uses the file '{'/'.join(here)}' as a directory.")
        resolved.append(part)
    return tuple(resolved)


def _place(plan: _Plan, member: tarfile.TarInfo, index: int, mode: int | None) -> int:
    """Put one member on the virtual tree; returns the bytes it will write."""
    name = member.name
    parts = _components(name)
    if not parts:
        return 0  # the root itself ("." or "./")
    outside = ArchiveError(f"Archive entry '{name}' points outside the deployment directory.")
    try:
        # The parent directory, through any links made so far; the last component is not
        # followed: a member replaces a link of the same name rather than writing through it.
        parent = _resolve(plan.nodes, (), "/".join(parts[:-1]), follow_last=True) if len(parts) > 1 else ()
    except _Outside:
        raise outside from None
    leaf = parts[-1]
    if leaf == "..":
        raise outside
    for depth in range(1, len(parent) + 1):  # implicit parents, like tar creates them
        existing = plan.nodes.get(parent[:depth])
        if existing is None:
            plan.nodes[parent[:depth]] = _Node("dir")
        elif existing.kind != "dir":
            raise ArchiveError(f"Archive entry '{name}' needs '{'/'.join(parent[:depth])}' to be a directory.")
    path = (*parent, leaf)
    existing = plan.nodes.get(path)
    if member.isdir():
        if existing is None or existing.kind != "dir":
            plan.nodes[path] = _Node("dir")
        return 0
    if existing is not None and existing.kind == "dir":
        raise ArchiveError(f"Archive entry '{name}' replaces a directory.")
    if member.isreg():
        plan.nodes[path] = _Node("file", member_index=index, mode=mode, size=max(member.size, 0))
        return plan.nodes[path].size
    elif member.issym():
        _check_link(plan, path, member.linkname, name)  # as the tree is now, and again when it is complete
        plan.nodes[path] = _Node("symlink", target=member.linkname)
        return 0
    elif member.islnk():
        try:
            source = _resolve(plan.nodes, (), member.linkname, follow_last=True)
        except _Outside:
            raise ArchiveError(f"Archive entry '{name}' links outside the deployment directory "
                               f"({member.linkname}).") from None
        source_node = plan.nodes.get(source)
        if source_node is None or source_node.kind != "file":
            raise ArchiveError(f"Archive entry '{name}' is a hard link to '{member.linkname}', "
                               f"which is not a file earlier in the archive.")
        # Written as a copy of the data the source member had: nothing on disk is shared.
        plan.nodes[path] = _Node("file", member_index=source_node.member_index, mode=mode, size=source_node.size)
        return source_node.size
    raise ArchiveError(f"Archive entry '{name}' is a device, FIFO or other special file.")


def _check_link(plan: _Plan, path: tuple[str, ...], target: str, name: str = "") -> None:
    try:
        _resolve(plan.nodes, path[:-1], target, follow_last=True)
    except _Outside:
        raise ArchiveError(f"Archive entry '{name or '/'.join(path)}' links outside the deployment "
                           f"directory ({target}).") from None


def _check_name(name: str) -> None:
    if "\x00" in name:
        raise ArchiveError(f"Archive entry '{name!r}' has an invalid name.")
    if name.startswith("/") or name.startswith("\\") or (len(name) > 1 and name[1] == ":"):
        raise ArchiveError(f"Archive entry '{name}' has an absolute path.")


def _plan(tar: tarfile.TarFile) -> _Plan:
    plan = _Plan()
    for index, member in enumerate(tar):
        plan.count += 1
        if plan.count > MAX_MEMBERS:
            raise ArchiveError(f"Archive has more than {MAX_MEMBERS} entries.")
        _check_name(member.name)
        if member.issym() and member.linkname.startswith("/"):
            raise ArchiveError(f"Archive entry '{member.name}' links outside the deployment directory "
                               f"({member.linkname}).")
        if not (member.isreg() or member.isdir() or member.issym() or member.islnk()):
            raise ArchiveError(f"Archive entry '{member.name}' is a device, FIFO or other special file.")
        plan.total += _place(plan, member, index, _filtered_mode(member))
        if plan.total > MAX_EXTRACTED_BYTES:
            raise ArchiveError(f"Archive expands to more than {MAX_EXTRACTED_BYTES // (1024 * 1024)} MB.")
    # Links are judged on the finished tree: a later member may change what a link resolves to.
    for path, node in plan.nodes.items():
        if node.kind == "symlink":
            _check_link(plan, path, node.target)
    return plan


def _filtered_mode(member: tarfile.TarInfo) -> int | None:
    """The member's mode as the "data" extraction filter leaves it (no setuid/setgid, no group or
    other write, owner read-write); the filter's own checks run too, as a second opinion."""
    data_filter = getattr(tarfile, "data_filter", None)  # Python 3.11.4+
    if data_filter is None:
        if member.isdir() or member.issym():
            return None
        mode = member.mode & 0o755
        return (mode if mode & 0o100 else mode & ~0o111) | 0o600
    try:
        return data_filter(member, _FILTER_ROOT).mode
    except tarfile.FilterError as exc:
        raise ArchiveError(f"Archive entry '{member.name}' is not allowed: {exc}") from None


def _open_plan(path: Path) -> _Plan:
    with open(path, "rb") as fh:
        magic = fh.read(2)
    if magic != b"\x1f\x8b":
        raise ArchiveError("The uploaded code is not a gzip-compressed tar archive (.tar.gz).")
    try:
        with tarfile.open(path, "r:gz") as tar:
            return _plan(tar)
    except (tarfile.TarError, EOFError, OSError, ValueError) as exc:
        raise ArchiveError(f"The uploaded code is not a valid tar.gz archive: {exc}")


def inspect_archive(path: Path) -> tuple[int, int]:
    """Validate the archive; return (member count, total uncompressed bytes). Raises ArchiveError."""
    plan = _open_plan(path)
    return plan.count, plan.total


def extract_archive(path: Path, dest: Path) -> None:
    """Extract an archive into `dest` (created; existing content removed). Raises ArchiveError
    before writing anything when a member or link would land or point outside `dest`."""
    plan = _open_plan(path)
    if dest.is_symlink() or dest.is_file():
        dest.unlink()
    elif dest.exists():
        shutil.rmtree(dest)
    dest.mkdir(parents=True)
    root = str(dest)

    def real(parts: tuple[str, ...]) -> str:
        return os.path.join(root, *parts)

    by_member: dict[int, list[tuple[str, ...]]] = {}
    for parts, node in plan.nodes.items():
        if node.kind == "file":
            by_member.setdefault(node.member_index, []).append(parts)
    for parts, node in sorted(plan.nodes.items(), key=lambda item: len(item[0])):
        if node.kind == "dir" and parts:
            os.makedirs(real(parts), exist_ok=True)
    try:
        with tarfile.open(path, "r:gz") as tar:
            for index, member in enumerate(tar):
                paths = by_member.get(index, ())
                for n, parts in enumerate(paths):
                    # O_NOFOLLOW|O_EXCL: no link exists on disk yet, and each path is written once.
                    fd = os.open(real(parts), os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
                    with os.fdopen(fd, "wb") as out:
                        if n == 0:
                            shutil.copyfileobj(tar.extractfile(member), out, 1 << 20)
                        else:  # hard links to it: a copy of what was just written
                            with open(real(paths[0]), "rb") as first:
                                shutil.copyfileobj(first, out, 1 << 20)
                    mode = plan.nodes[parts].mode
                    os.chmod(real(parts), mode if mode is not None else 0o644)
    except (tarfile.TarError, EOFError, ValueError) as exc:
        raise ArchiveError(f"The uploaded code is not a valid tar.gz archive: {exc}")
    for parts, node in sorted(plan.nodes.items(), key=lambda item: len(item[0])):
        if node.kind == "symlink":
            os.symlink(node.target, real(parts))


def create_archive(src_dir: Path, dest: Path) -> None:
    """Pack a directory as tar.gz (build outputs, downloads)."""
    tmp = dest.with_suffix(".tmp")
    with tarfile.open(tmp, "w:gz", compresslevel=1) as tar:
        for entry in sorted(os.listdir(src_dir)):
            tar.add(src_dir / entry, arcname=entry)
    os.replace(tmp, dest)
