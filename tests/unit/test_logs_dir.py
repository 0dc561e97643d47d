"""Instances' log files on tmpfs (emulator/executors/logs_dirs.py make_logs_dir): the path a
runtime is given stays inside the data dir, the files land on /dev/shm, and nothing is left there once
the instance is removed, or once its data dir is deleted under a killed server."""
from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from emulator.executors import logs_dirs
from emulator.executors.logs_dirs import make_logs_dir, remove_instance_dir
from emulator.executors.runtime_client import read_log_files, remove_log_files

pytestmark = pytest.mark.skipif(not os.path.isdir("/dev/shm"), reason="no /dev/shm on this machine")


def shm_dirs() -> set[str]:
    return {name for name in os.listdir("/dev/shm") if name.startswith(logs_dirs.SHM_LOGS_PREFIX)}


def test_logs_dir_links_to_tmpfs_and_goes_with_the_instance(tmp_path):
    before = shm_dirs()
    inst_dir = tmp_path / "run" / "fn-1234"
    logs = make_logs_dir(inst_dir)
    assert logs == inst_dir / "logs" and logs.is_symlink()
    target = os.readlink(logs)
    assert os.path.dirname(target) == "/dev/shm" and os.path.isdir(target)
    (logs / "abc_logs.log").write_text("hello\n")
    assert os.path.isfile(os.path.join(target, "abc_logs.log")), "written through the link, onto tmpfs"
    assert read_log_files(logs, "abc") == ("hello\n", "")
    remove_log_files(logs, "abc")
    assert os.listdir(target) == [], "remove_log_files removes what was read"
    remove_instance_dir(inst_dir)
    assert not inst_dir.exists() and not os.path.exists(target) and not os.path.exists(target + ".owner")
    assert shm_dirs() == before


def test_plain_directory_when_tmpfs_is_not_wanted(tmp_path):
    before = shm_dirs()
    logs = make_logs_dir(tmp_path / "inst", tmpfs=False)
    assert logs.is_dir() and not logs.is_symlink()
    assert shm_dirs() == before
    remove_instance_dir(tmp_path / "inst")
    assert not (tmp_path / "inst").exists()


def test_a_link_pointing_elsewhere_is_not_followed(tmp_path):
    elsewhere = tmp_path / "precious"
    elsewhere.mkdir()
    (elsewhere / "keep.txt").write_text("x")
    inst_dir = tmp_path / "inst"
    inst_dir.mkdir()
    (inst_dir / "logs").symlink_to(elsewhere)
    remove_instance_dir(inst_dir)
    assert not inst_dir.exists() and (elsewhere / "keep.txt").read_text() == "x"


def test_orphans_of_a_deleted_data_dir_are_swept(tmp_path, monkeypatch):
    data = tmp_path / "data"
    orphan = os.readlink(make_logs_dir(data / "run" / "fn-1"))
    shutil.rmtree(data)  # a killed server's data dir deleted: nothing removed the tmpfs side
    assert os.path.isdir(orphan)
    monkeypatch.setattr(logs_dirs, "_swept", False)  # as in a new server process
    live = make_logs_dir(tmp_path / "other" / "fn-2")
    assert not os.path.exists(orphan) and not os.path.exists(orphan + ".owner")
    assert Path(os.readlink(live)).is_dir(), "a live instance's directory stays"
    remove_instance_dir(tmp_path / "other" / "fn-2")
