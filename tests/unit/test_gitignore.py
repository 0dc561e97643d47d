"""Which files a deployment takes (project.py's gitignore matching), held against git itself.

Each case writes a real folder and a real git repository over it, then compares what the
emulator includes with what `git check-ignore` and `git ls-files --others --exclude-standard`
say. Only the folder's own .gitignore counts: no global or repository-wide exclude file.
"""
from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from emulator.project import FunctionConfig, IgnoreRules

pytestmark = pytest.mark.skipif(shutil.which("git") is None, reason="needs git")

FILES = [
    "main.py", "keep.log", "debug.log", "src/app.log", "src/keep.log", "src/main.js",
    "build/out.js", "src/build/out.js", "dist/bundle.js", "src/dist", "dist.txt",
    "node_modules/x/index.js", "src/node_modules/y/index.js",
    "docs/x.md", "docs/a/x.md", "docs/a/b/x.md", "docs/a/y.md",
    "cache/c.bin", "deep/er/cache/c.bin", "cachefile",
    "tmp/t.txt", "src/tmp", "a/b", "a/q/b", "a/q/r/b/file", "ab",
    "mod.pyc", "mod.pyo", "mod.pyd", "pkg/__pycache__/m.cpython-311.pyc",
    "#hash.txt", "!bang.txt", "trailing.txt ",
    "foo/one.txt", "foo/keep/k.txt", "foo/other/o.txt",
    "data/a.csv", "data/important.csv", "data/sub/b.csv",
    "x/logs/l1", "logs/l2", "y/logs/z/l3", "logsfile",
    "secret1.txt", "secret12.txt", "Temp1", "temp2", "xTemp",
    "out/x.txt", "out/y.txt",
    "sub/deep/f", "other/sub/deep/f",
    "root-only.txt", "src/root-only.txt", "nested/root-only.txt", "z/nested/root-only.txt",
    ".env", ".env.example", "space dir/file name.txt", "unicodé/ü.txt",
    ".appwrite/state.json",
]

GITIGNORE = r"""
# comments and blank lines are skipped

*.log
!keep.log
/build
dist/
node_modules
docs/**/x.md
**/cache
tmp/
a/**/b
*.py[co]
__pycache__/
\#hash.txt
\!bang.txt
trailing.txt\ 
foo/*
!foo/keep/
data/*.csv
!data/important.csv
**/logs/**
secret?.txt
[Tt]emp*
out/
!out/x.txt
sub/deep/
/root-only.txt
nested/root-only.txt
.env
!
\
"""

# Smaller sets that each stress one rule, with the same files.
CASES = {
    "real-world": GITIGNORE,
    "negation order": "*.txt\n!foo/*.txt\nfoo/other/\n!*.md\ndocs/\n",
    "directory only": "cache/\nsrc/dist/\n*/\n!src/\n",
    "anchors": "/a\nsrc/*.js\n**/b\n/docs/*/\n",
    "double star": "**\n!**/\n!*.py\n",
    "escapes and ranges": "[!a-m]*.txt\n\\#*\n?emp?\n*[0-9].txt\n",
    "inside a directory": "docs/**\n!docs/a/\n!docs/x.md\nfoo/**/\n!foo/keep/**\ndata/**/*.csv\n",
    "directory negations": "*\n!*/\n!*.txt\nsrc/*\n!src/main.js\n",
    "empty": "",
}


def make_folder(root: Path, gitignore: str) -> Path:
    folder = root / "fn"
    for rel in FILES:
        path = folder / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(rel)
    (folder / ".gitignore").write_text(gitignore)
    # git's own view, from this folder's .gitignore alone.
    subprocess.run(["git", "init", "-q", str(folder)], check=True)
    (folder / ".git" / "info").mkdir(exist_ok=True)
    (folder / ".git" / "info" / "exclude").write_text("")
    return folder


def git(folder: Path, *args: str, stdin: str = "") -> subprocess.CompletedProcess:
    env = dict(os.environ, GIT_CONFIG_GLOBAL=os.devnull, GIT_CONFIG_NOSYSTEM="1")
    return subprocess.run(["git", "-c", "core.excludesFile=", "-c", "core.quotePath=false", *args],
                          cwd=folder, input=stdin, capture_output=True, text=True, env=env)


def all_paths(folder: Path) -> list[str]:
    """Every file and directory under the folder except .git, relative and posix."""
    out = []
    for root, dirs, names in os.walk(folder):
        dirs[:] = [d for d in dirs if not (root == str(folder) and d == ".git")]
        for name in dirs + names:
            out.append(Path(root, name).relative_to(folder).as_posix())
    return sorted(out)


@pytest.mark.parametrize("case", sorted(CASES))
def test_each_path_is_ignored_exactly_when_git_ignores_it(tmp_path, case):
    folder = make_folder(tmp_path, CASES[case])
    fn = FunctionConfig(id="fn", name="fn", runtime="python-3.11", path=folder, entrypoint="main.py")
    paths = [p for p in all_paths(folder) if p.split("/")[0] != ".appwrite"]  # git has no such rule
    result = git(folder, "check-ignore", "--no-index", "--stdin", "-z", stdin="\0".join(paths) + "\0")
    assert result.returncode in (0, 1), result.stderr  # 1: nothing ignored
    git_ignored = set(filter(None, result.stdout.split("\0")))
    ours = {p for p in paths if fn.is_ignored(folder / p)}
    assert ours == git_ignored, {"only ours": sorted(ours - git_ignored), "only git": sorted(git_ignored - ours)}
    assert len(paths) > len(FILES)  # directories were asked about too


@pytest.mark.parametrize("case", sorted(CASES))
def test_deployment_files_are_what_git_would_add(tmp_path, case):
    folder = make_folder(tmp_path, CASES[case])
    fn = FunctionConfig(id="fn", name="fn", runtime="python-3.11", path=folder, entrypoint="main.py")
    result = git(folder, "ls-files", "--others", "--exclude-standard", "-z")
    assert result.returncode == 0, result.stderr
    git_files = set(filter(None, result.stdout.split("\0")))
    ours = set(fn.files())
    # .appwrite is the one folder the Appwrite CLI leaves out whatever the ignore rules say.
    assert ours == {p for p in git_files if not p.startswith(".appwrite/")}
    assert ".gitignore" in ours or ".gitignore" not in git_files


def test_the_config_ignore_list_replaces_the_gitignore(tmp_path):
    folder = make_folder(tmp_path, "*.js\n")
    fn = FunctionConfig(id="fn", name="fn", runtime="python-3.11", path=folder, entrypoint="main.py",
                        ignore=["*.log", "!keep.log", "node_modules"])
    files = set(fn.files())
    assert "src/main.js" in files  # the .gitignore is not read
    assert "debug.log" not in files and "keep.log" in files and "src/keep.log" in files
    assert not any(p.startswith("node_modules/") or "/node_modules/" in p for p in files)


def test_a_file_under_an_ignored_directory_stays_ignored():
    rules = IgnoreRules(["out/", "!out/x.txt"])
    assert rules.ignored("out", is_dir=True)
    # Asked alone the file matches the negation; the folder walk and is_ignored never get that far.
    assert not rules.ignored("out/x.txt", is_dir=False)


def test_a_pattern_git_rejects_is_skipped_not_fatal():
    rules = IgnoreRules(["!", "\\", "*.log"])
    assert rules.ignored("a.log", is_dir=False) and not rules.ignored("a.txt", is_dir=False)
