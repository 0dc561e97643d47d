"""emulator/archives.py on its own: hostile archives are refused before anything is written, and
what is accepted lands entirely inside the target directory, with no link pointing out of it.

Every case unpacks into a target eight directories deep inside tmp_path, so an escape of up to
eight levels would still land inside tmp_path, where the test walks everything to find it.
"""
from __future__ import annotations

import io
import os
import tarfile
from pathlib import Path

import pytest

from emulator.archives import ArchiveError, extract_archive, inspect_archive
from support import tar_members

DEPTH = 8


def build(path: Path, members: list[tuple]) -> Path:
    """members: ("file", name, bytes) | ("dir", name) | ("sym", name, target) | ("hard", name, target)
    | ("chr", name) | ("fifo", name)."""
    path.write_bytes(tar_members(members))
    return path


def everything(root: Path) -> set[Path]:
    """Every file, directory and link under root, without following links."""
    found = set()
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            found.add(Path(dirpath) / name)
    return found


@pytest.fixture
def sandbox(tmp_path):
    archives = tmp_path / "archives"
    archives.mkdir()
    target = tmp_path.joinpath(*[f"level{i}" for i in range(DEPTH)], "target")
    target.parent.mkdir(parents=True)
    return tmp_path, archives, target


def assert_contained(tmp_path: Path, archives: Path, target: Path, before: set[Path]) -> None:
    """Nothing new outside the target; every link inside it resolves inside it."""
    after = everything(tmp_path)
    outside = {p for p in after - before if p != target and target not in p.parents}
    assert not outside, f"written outside the target: {sorted(map(str, outside))}"
    real_target = os.path.realpath(target)
    for path in after:
        if path.is_symlink():
            resolved = os.path.realpath(path)
            assert resolved == real_target or resolved.startswith(real_target + os.sep), \
                f"{path} -> {os.readlink(path)} resolves to {resolved}, outside the target"


def chain(n: int) -> str:
    return "/".join(["s"] * n + [".."] * n + ["X"])


def path_max_chain() -> list[tuple]:
    """The layout behind CVE-2025-4517: links through long directory names make the real path
    longer than PATH_MAX, where os.path.realpath (and so tarfile's own filter before Python
    3.11.13) stops resolving; the final link then climbs out. Judged on the virtual tree, the
    length does not matter."""
    long_dir, steps, members, path = "d" * 247, "abcdefghijklmnop", [], ""
    for step in steps:
        members += [("dir", f"{path}{long_dir}"), ("sym", f"{path}{step}", long_dir)]
        path += f"{long_dir}/"
    link = "/".join(steps) + "/" + "l" * 254
    members.append(("sym", link, "../" * len(steps)))
    members.append(("sym", "escape", f"{link}/../../../../../../../../../.."))
    members.append(("file", "escape/X", b"x"))
    return members


HOSTILE = {
    "PATH_MAX chain": path_max_chain(),
    "parent path": [("file", "main.py", b"ok"), ("file", "../escape.txt", b"x")],
    "parent path deep": [("file", "src/../../../escape.txt", b"x")],
    "parent in the middle": [("file", "a/b/../../../escape.txt", b"x")],
    "absolute path": [("file", "/tmp/escape-absolute.txt", b"x")],
    "absolute symlink": [("sym", "link", "/etc")],
    "symlink then write through it": [("sym", "link", "/tmp"), ("file", "link/escape.txt", b"x")],
    "relative symlink out": [("sym", "up", "../../../../..")],
    "relative symlink out from a subdir": [("dir", "sub"), ("sym", "sub/up", "../..")],
    "symlink chain of the security report": [("sym", "s", "."), ("sym", "evil", chain(DEPTH)), ("file", "evil", b"X")],
    "dot link then parent link": [("sym", "d", "."), ("sym", "d/e", "..")],
    "link through a link out": [("dir", "a"), ("sym", "a/up", ".."), ("sym", "b", "a/up/.."),
                                ("file", "b/escape.txt", b"x")],
    "link retargeted by a later member": [("sym", "e", "s/.."), ("sym", "s", "."), ("file", "x", b"x")],
    "hard link to an absolute path": [("hard", "passwd", "/etc/passwd")],
    "hard link to a parent path": [("hard", "h", "../escape.txt")],
    "hard link through a link out": [("sym", "s", "."), ("hard", "h", "s/../outside.txt")],
    "hard link to nothing in the archive": [("hard", "h", "missing.txt")],
    "character device": [("chr", "dev")],
    "fifo": [("fifo", "pipe")],
    "link loop": [("sym", "a", "b"), ("sym", "b", "a")],
    "file used as a directory": [("file", "f", b"x"), ("file", "f/g", b"y")],
    "directory replaced by a file": [("dir", "d"), ("file", "d/x", b"x"), ("file", "d", b"y")],
    "name that is only a parent": [("dir", "..")],
}


@pytest.mark.parametrize("case", sorted(HOSTILE))
def test_hostile_archive_is_refused_and_writes_nothing(sandbox, case):
    tmp_path, archives, target = sandbox
    archive = build(archives / "hostile.tar.gz", HOSTILE[case])
    before = everything(tmp_path)
    with pytest.raises(ArchiveError):
        inspect_archive(archive)
    with pytest.raises(ArchiveError):
        extract_archive(archive, target)
    assert everything(tmp_path) == before, "a refused archive must write nothing at all"
    assert not Path("/tmp/escape-absolute.txt").exists()


def test_chain_escape_lands_eight_levels_up_without_the_check(sandbox):
    """The report's chain really does escape when written naively (tarfile without a filter):
    the layout of this test is able to see an escape."""
    tmp_path, archives, target = sandbox
    archive = build(archives / "chain.tar.gz", HOSTILE["symlink chain of the security report"])
    target.mkdir()
    with tarfile.open(archive) as tar:
        tar.extractall(target, filter="fully_trusted")
    assert target.parents[DEPTH - 1].joinpath("X").read_bytes() == b"X"  # eight levels above the target


def test_later_member_replaces_a_link_instead_of_writing_through_it(sandbox):
    tmp_path, archives, target = sandbox
    archive = build(archives / "dup.tar.gz", [
        ("file", "main.py", b"original"),
        ("sym", "alias", "main.py"),
        ("file", "alias", b"replacement"),
        ("sym", "dirlink", "lib"),
        ("dir", "lib"),
        ("dir", "dirlink"),
        ("file", "dirlink/inside.txt", b"in a real directory"),
    ])
    before = everything(tmp_path)
    extract_archive(archive, target)
    assert (target / "main.py").read_bytes() == b"original"
    assert not (target / "alias").is_symlink() and (target / "alias").read_bytes() == b"replacement"
    assert not (target / "dirlink").is_symlink()
    assert (target / "dirlink" / "inside.txt").read_bytes() == b"in a real directory"
    assert not (target / "lib" / "inside.txt").exists()
    assert_contained(tmp_path, archives, target, before)


def test_links_that_stay_inside_are_kept(sandbox):
    tmp_path, archives, target = sandbox
    archive = build(archives / "ok.tar.gz", [
        ("file", "lib/real.py", b"VALUE = 1\n"),
        ("sym", "helper.py", "lib/real.py"),
        ("sym", "lib/self", "."),
        ("sym", "back", "lib/self/self/../lib/real.py"),
        ("sym", "libdir", "lib"),
        ("file", "libdir/through.txt", b"written through an inside link"),
        ("hard", "copy.py", "helper.py"),
        ("sym", "dangling", "not/there"),
        ("file", "bin/tool", b"#!/bin/sh\n"),
    ])
    before = everything(tmp_path)
    extract_archive(archive, target)
    assert (target / "helper.py").read_bytes() == b"VALUE = 1\n"
    assert (target / "back").read_bytes() == b"VALUE = 1\n"
    assert (target / "lib" / "through.txt").read_bytes() == b"written through an inside link"
    assert (target / "libdir").is_symlink()
    # A hard link becomes an independent copy: nothing on disk is shared with its source.
    assert (target / "copy.py").read_bytes() == b"VALUE = 1\n" and not (target / "copy.py").is_symlink()
    assert os.stat(target / "copy.py").st_ino != os.stat(target / "lib" / "real.py").st_ino
    assert (target / "dangling").is_symlink()
    assert_contained(tmp_path, archives, target, before)


@pytest.mark.parametrize("with_data_filter", [True, False])
def test_modes_are_sanitised(sandbox, monkeypatch, with_data_filter):
    if not with_data_filter:  # Python before 3.11.4 has no tarfile.data_filter: same result
        monkeypatch.delattr(tarfile, "data_filter")
    tmp_path, archives, target = sandbox
    path = archives / "modes.tar.gz"
    with tarfile.open(path, "w:gz") as tar:
        for name, mode in (("setuid", 0o4777), ("script.sh", 0o755), ("readonly", 0o400)):
            info = tarfile.TarInfo(name)
            info.size, info.mode = 1, mode
            tar.addfile(info, io.BytesIO(b"x"))
    extract_archive(path, target)
    assert os.stat(target / "setuid").st_mode & 0o7777 == 0o755  # no setuid, no group/other write
    assert os.stat(target / "script.sh").st_mode & 0o777 == 0o755
    assert os.stat(target / "readonly").st_mode & 0o777 == 0o600  # the owner can always rewrite it


def test_extract_replaces_previous_content(sandbox):
    tmp_path, archives, target = sandbox
    target.mkdir()
    (target / "stale.txt").write_text("old")
    os.symlink("/etc", target / "old-link")
    extract_archive(build(archives / "new.tar.gz", [("file", "main.py", b"new")]), target)
    assert sorted(p.name for p in target.iterdir()) == ["main.py"]


def test_inspect_counts_members_and_bytes(sandbox):
    tmp_path, archives, target = sandbox
    archive = build(archives / "count.tar.gz", [("file", "a", b"12345"), ("dir", "d"), ("hard", "b", "a")])
    assert inspect_archive(archive) == (3, 10)  # a hard link is written as a copy: it counts
