"""Instances' log directories: where a runtime writes each call's log files for the executor to read.

Light on imports (no asyncio): `dev` makes one for an instance it starts before the server's
modules are imported (executors/early.py).
"""
from __future__ import annotations

import os
import shutil
import stat
import tempfile
from pathlib import Path

# Every v5 call creates two log files that the executor reads and deletes right after. On a disk
# filesystem that create/unlink churn was most of a warm call: 0.3-0.5 ms of kernel time per call
# in the Python adapter on ext4 (0.1-0.6 ms per file create on a busy machine), against ~0.02 ms
# on tmpfs. So an instance's logs dir is a link to a private directory on /dev/shm where the
# machine has one; the path the runtime is given stays inside the data dir.
SHM_DIR = "/dev/shm"
SHM_LOGS_PREFIX = "appwrite-emulator-logs-"


_swept = False


def make_logs_dir(inst_dir: Path, tmpfs: bool = True) -> Path:
    """`inst_dir`/logs (made with `inst_dir`): with `tmpfs`, a link to a new directory on tmpfs when
    there is one, else a plain directory. `<target>.owner` next to the target names the link, so directories
    whose link is gone (a data dir deleted under a killed server) are swept on the next use."""
    global _swept
    inst_dir.mkdir(parents=True, exist_ok=True)
    logs = inst_dir / "logs"
    if tmpfs and os.path.isdir(SHM_DIR) and os.access(SHM_DIR, os.W_OK | os.X_OK) and not os.path.lexists(logs):
        if not _swept:
            _swept = True
            _sweep_orphans()
        try:
            target = tempfile.mkdtemp(prefix=SHM_LOGS_PREFIX, dir=SHM_DIR)
        except OSError:
            target = None
        if target is not None:
            try:
                os.symlink(target, logs)
                with open(target + ".owner", "w") as owner:  # written last: a sweep skips a half-made one
                    owner.write(str(logs))
                return logs
            except OSError:
                _remove_shm_dir(target)
    logs.mkdir(exist_ok=True)
    return logs


def remove_instance_dir(inst_dir: Path) -> None:
    """`inst_dir` and, if its logs dir links to a tmpfs directory make_logs_dir made, that directory."""
    try:
        target = os.readlink(inst_dir / "logs")
    except OSError:
        target = None
    if target is not None and _own_shm_dir(target):
        _remove_shm_dir(target)
    shutil.rmtree(inst_dir, ignore_errors=True)


def _remove_shm_dir(target: str) -> None:
    shutil.rmtree(target, ignore_errors=True)
    try:
        os.unlink(target + ".owner")
    except OSError:
        pass


def _sweep_orphans() -> None:
    try:
        names = os.listdir(SHM_DIR)
    except OSError:
        return
    for name in names:
        target = os.path.join(SHM_DIR, name)
        if not name.endswith(".owner") or not _own_shm_dir(target[:-len(".owner")]):
            continue
        target = target[:-len(".owner")]
        try:
            with open(target + ".owner") as owner:
                link = owner.read()
            alive = os.readlink(link) == target
        except OSError:
            alive = False
        if not alive:
            _remove_shm_dir(target)


def _own_shm_dir(path: str) -> bool:
    # A link's target is only removed when it is what make_logs_dir makes: a directory of ours
    # directly under /dev/shm with our prefix (a link edited to point elsewhere is left alone).
    if os.path.dirname(path) != SHM_DIR or not os.path.basename(path).startswith(SHM_LOGS_PREFIX):
        return False
    try:
        info = os.lstat(path)
    except OSError:
        return False
    return stat.S_ISDIR(info.st_mode) and info.st_uid == os.getuid()
