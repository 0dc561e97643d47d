"""Finding and following the project config: `find_config` (shared by `init`, `exec` and `dev`)
and the dev loop's `ConfigPoller`, on real files."""
from __future__ import annotations

import json
import os

from emulator.dev.config import ConfigPoller
from emulator.project import find_config

from .devproc import write


def config(folder, project_id="p", functions=()):
    write(folder / "appwrite.config.json", json.dumps({"projectId": project_id, "functions": list(functions)}))
    return folder / "appwrite.config.json"


def test_find_config_searches_upwards_and_prefers_the_current_name(tmp_path):
    root = config(tmp_path)
    deep = tmp_path / "a/b"
    deep.mkdir(parents=True)
    assert find_config(deep) == root
    assert find_config(deep, upward=False) is None
    write(tmp_path / "a/appwrite.json", "{}")
    assert find_config(deep) == tmp_path / "a/appwrite.json"  # the nearest folder wins
    write(tmp_path / "a/appwrite.config.json", "{}")
    assert find_config(deep) == tmp_path / "a/appwrite.config.json"  # then the current name


def test_find_config_within_a_folder_stops_there(tmp_path):
    root = config(tmp_path)
    work = tmp_path / "work"
    deep = work / "a/b"
    deep.mkdir(parents=True)
    assert find_config(deep, within=work) is None  # the config above `within` is not used
    assert find_config(tmp_path / "elsewhere", within=work) is None
    inner = config(work)
    assert find_config(deep, within=work) == inner
    # Outside `within`: only the folder itself counts.
    other = tmp_path / "other/x"
    other.mkdir(parents=True)
    assert find_config(other, within=work) is None and find_config(other) == root


def test_init_registers_in_the_config_between_the_directory_and_the_working_directory(tmp_path, monkeypatch):
    from emulator.cli import find_config as init_config
    monkeypatch.chdir(tmp_path / "")
    config(tmp_path / "project")
    (tmp_path / "project/functions/f").mkdir(parents=True)
    assert init_config((tmp_path / "project/functions/f").resolve()) == (tmp_path / "project/appwrite.config.json").resolve()
    # None found: a new one in the directory itself.
    (tmp_path / "lone").mkdir()
    assert init_config((tmp_path / "lone").resolve()) == (tmp_path / "lone/appwrite.config.json").resolve()


def test_config_poller_reports_edits_and_keeps_going_after_a_broken_file(tmp_path):
    write(tmp_path / "functions/f/main.py", "")
    fn = {"$id": "f", "runtime": "python-3.11", "path": "functions/f", "entrypoint": "main.py"}
    path = config(tmp_path, "p", [fn])
    changes, errors = [], []
    poller = ConfigPoller(path, "p", changes.append, errors.append)
    poller.poll()
    assert changes == [] and errors == []  # nothing changed since it started
    write(path, "{not json")
    os.utime(path, ns=(1, 1))  # a different mtime whatever the clock's resolution
    poller.poll()
    assert changes == [] and len(errors) == 1 and "keeping the previous settings" in errors[0]
    config(tmp_path, "p", [dict(fn, timeout=30)])
    os.utime(path, ns=(2, 2))
    poller.poll()
    assert len(changes) == 1 and changes[0].functions[0].timeout == 30 and changes[0].project_id == "p"
    poller.poll()
    assert len(changes) == 1  # reported once
