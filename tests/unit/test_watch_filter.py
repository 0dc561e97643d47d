"""`WatchFilter` alone: which changed paths wake which function, with no watcher and no server."""
from __future__ import annotations

from pathlib import Path

from watchfiles import Change

from emulator.dev.watch import WatchFilter
from emulator.project import FunctionConfig


def function(path: Path, fid: str = "fn", **kwargs) -> FunctionConfig:
    path.mkdir(parents=True, exist_ok=True)
    return FunctionConfig(id=fid, name=fid, runtime="python-3.11", path=path, entrypoint="main.py", **kwargs)


def write(path: Path, text: str = "") -> str:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return str(path)


def test_a_source_file_in_the_folder_is_relevant(tmp_path):
    fn = function(tmp_path / "fn")
    watch_filter = WatchFilter(lambda: [fn])
    path = write(fn.path / "src/main.py")
    assert watch_filter(Change.modified, path)
    assert watch_filter.owners(path) == [fn]


def test_paths_outside_every_folder_are_not(tmp_path):
    fn = function(tmp_path / "fn")
    watch_filter = WatchFilter(lambda: [fn])
    for path in (write(tmp_path / "other/main.py"), write(tmp_path / "fn-sibling/main.py"), str(tmp_path)):
        assert not watch_filter(Change.added, path)
        assert watch_filter.owners(path) == []


def test_gitignored_git_and_appwrite_paths_are_not_relevant(tmp_path):
    fn = function(tmp_path / "fn")
    write(fn.path / ".gitignore", "node_modules/\n*.log\n")
    watch_filter = WatchFilter(lambda: [fn])
    assert not watch_filter(Change.added, write(fn.path / "node_modules/dep/index.js"))
    assert not watch_filter(Change.modified, write(fn.path / "debug.log"))
    assert not watch_filter(Change.modified, write(fn.path / ".git/index"))
    assert not watch_filter(Change.modified, write(fn.path / ".appwrite/state.json"))
    assert watch_filter(Change.modified, write(fn.path / "main.py"))
    assert watch_filter(Change.modified, str(fn.path / ".gitignore"))  # it decides what is deployed


def test_the_config_ignore_list_wins_over_the_gitignore(tmp_path):
    fn = function(tmp_path / "fn", ignore=["*.tmp"])
    write(fn.path / ".gitignore", "*.py\n")
    watch_filter = WatchFilter(lambda: [fn])
    assert watch_filter(Change.modified, write(fn.path / "main.py"))
    assert not watch_filter(Change.modified, write(fn.path / "x.tmp"))


def test_the_data_dir_inside_the_folder_is_excluded(tmp_path):
    fn = function(tmp_path / "fn")
    fn.extra_excludes = (fn.path / ".emulator",)
    watch_filter = WatchFilter(lambda: [fn])
    assert not watch_filter(Change.added, write(fn.path / ".emulator/state.sqlite3"))
    assert watch_filter(Change.added, write(fn.path / "main.py"))


def test_rules_are_read_once_and_again_after_a_gitignore_change(tmp_path):
    fn = function(tmp_path / "fn")
    gitignore = write(fn.path / ".gitignore", "*.log\n")
    log_file = write(fn.path / "out.log")
    watch_filter = WatchFilter(lambda: [fn])
    assert not watch_filter(Change.modified, log_file)
    write(fn.path / ".gitignore", "")
    # Cached: an edit of the .gitignore counts once its own event arrives.
    assert not watch_filter(Change.modified, log_file)
    assert watch_filter(Change.modified, gitignore)
    assert watch_filter(Change.modified, log_file)


def test_a_replaced_config_is_read_afresh(tmp_path):
    functions = [function(tmp_path / "fn", ignore=["*.txt"])]
    watch_filter = WatchFilter(lambda: functions)
    notes = write(tmp_path / "fn/notes.txt")
    assert not watch_filter(Change.modified, notes)
    functions[0] = function(tmp_path / "fn", ignore=[])
    assert watch_filter(Change.modified, notes)


def test_nested_folders_each_decide_for_themselves(tmp_path):
    outer = function(tmp_path / "outer", "outer", ignore=["inner/"])
    inner = function(tmp_path / "outer/inner", "inner")
    watch_filter = WatchFilter(lambda: [outer, inner])
    path = write(inner.path / "main.py")
    assert watch_filter.owners(path) == [outer, inner]
    assert watch_filter(Change.modified, path)  # relevant to inner, ignored by outer
    assert watch_filter.owners(write(outer.path / "main.py")) == [outer]


def test_a_function_no_longer_watched_wakes_nothing(tmp_path):
    functions = [function(tmp_path / "a", "a"), function(tmp_path / "b", "b")]
    watch_filter = WatchFilter(lambda: functions)
    assert watch_filter.roots() == sorted([str(tmp_path / "a"), str(tmp_path / "b")])
    path = write(tmp_path / "b/main.py")
    assert watch_filter(Change.modified, path)
    functions.pop()
    assert not watch_filter(Change.modified, path)
    assert watch_filter.roots() == [str(tmp_path / "a")]


def test_roots_are_listed_once(tmp_path):
    a = function(tmp_path / "a", "a")
    twin = function(tmp_path / "a", "twin")
    watch_filter = WatchFilter(lambda: [a, twin])
    assert watch_filter.roots() == [str(tmp_path / "a")]
    assert watch_filter.owners(write(tmp_path / "a/main.py")) == [a, twin]
