"""A developer's project on disk: the Appwrite CLI config, or a lone function folder.

`load_project(path)` reads `appwrite.config.json` (or the legacy `appwrite.json`) the way the
Appwrite CLI writes it (docs/appwrite-api.md, "Around the Functions API"). A folder without a config is taken
as one function, and its runtime and entrypoint are guessed from the files in it; every guess is
recorded in `Project.notes` so the dev loop can say what it assumed.

Which files belong to a deployment follows the CLI: the function's `ignore` list when it has one,
else its `.gitignore` (gitignore syntax either way); `.appwrite` and `.git` never do.
"""
from __future__ import annotations

import io
import json
import os
import re
import tarfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable

from .languages import LANGUAGES, language_for_runtime

CONFIG_NAMES = ("appwrite.config.json", "appwrite.json")  # the CLI's current name, then its older one
ALWAYS_IGNORED = (".appwrite", ".git")
DEFAULT_PROJECT = "default"


class ProjectError(Exception):
    """The project on disk cannot be used; the message says what to fix."""


# -- ignore rules (gitignore syntax) ------------------------------------------------------------
# pathspec names the part of a pattern's regex that matches a directory's trailing slash.
_DIR_MARK = "ps_d"


class IgnoreRules:
    """gitignore patterns, decided the way git decides, over posix paths relative to the folder.

    pathspec's GitIgnoreSpec turns each line into a regex (git's wildmatch syntax). Its own
    verdict differs from git's where directories are concerned (a directory pattern matches the
    whole tree below it, so `*/` then `!src/` re-includes everything in src/), so the verdict
    follows git here: the last pattern that names the path itself wins. A path inside an ignored
    directory stays ignored even when a later `!` names it: callers ask about each parent first
    (the folder walk never enters an ignored one). A line git rejects (a lone `!`) is skipped."""

    def __init__(self, patterns: Iterable[str] = ()):
        self._rules: list[tuple[bool, re.Pattern, re.Pattern]] = []
        patterns = list(patterns)
        if patterns:
            from pathspec import GitIgnoreSpec  # ~10 ms of imports: only a folder with rules needs it
        for line in patterns:
            if line.rstrip().endswith("/**/"):
                # git: the directories below `x`; pathspec reads `x/**/` as `x/` itself.
                line = line.rstrip() + "*/"
            try:
                spec = GitIgnoreSpec.from_lines([line])
            except ValueError:  # pathspec's pattern error
                continue
            for pattern in spec.patterns:
                if pattern.include is not None and pattern.regex is not None:
                    regex = pattern.regex
                    self._rules.append((pattern.include, regex, re.compile(f"(?:{regex.pattern})$")))

    def ignored(self, rel: str, is_dir: bool) -> bool:
        result = False
        for ignore, regex, at_end in self._rules:
            if _names(regex, at_end, rel, is_dir):
                result = ignore
        return result


def _names(regex: re.Pattern, at_end: re.Pattern, rel: str, is_dir: bool) -> bool:
    """Whether a pattern matches `rel` itself, not only as something inside a matched directory."""
    if _DIR_MARK not in regex.groupindex:  # `dir/**`, `**`: everything below a point
        return regex.search(rel) is not None
    found = at_end.search(rel)
    if found is not None and found.group(_DIR_MARK) is None:  # `name`, `*.log`, `a/b`
        return True
    if is_dir:  # `name/`, `*/`: the directory with its slash
        found = at_end.search(rel + "/")
        return found is not None and found.group(_DIR_MARK) is not None
    return False


# -- configuration ------------------------------------------------------------------------------
@dataclass
class FunctionConfig:
    id: str
    name: str
    runtime: str
    path: Path  # absolute function folder
    entrypoint: str
    commands: str = ""
    ignore: list[str] | None = None
    timeout: int = 15
    schedule: str = ""
    events: list[str] = field(default_factory=list)
    execute: list[str] = field(default_factory=lambda: ["any"])
    scopes: list[str] = field(default_factory=list)
    logging: bool = True
    enabled: bool = True
    specification: str = ""
    vars: dict[str, str] = field(default_factory=dict)
    extra_excludes: tuple[Path, ...] = ()  # e.g. the emulator's data dir when it lies inside

    @property
    def language(self):
        return language_for_runtime(self.runtime)

    def function_params(self) -> dict:
        """Parameters for services.functions.create_function / update_function."""
        params = {"functionId": self.id, "name": self.name, "runtime": self.runtime, "execute": self.execute,
                  "events": self.events, "schedule": self.schedule, "timeout": self.timeout,
                  "enabled": self.enabled, "logging": self.logging, "entrypoint": self.entrypoint,
                  "commands": self.commands, "scopes": self.scopes}
        if self.specification:
            params["specification"] = self.specification
        return params

    def build_key(self) -> tuple:
        """What a deployment is built from besides the files: a change needs a full rebuild."""
        return (self.runtime, self.entrypoint, self.commands, str(self.path), tuple(self.ignore or ()))

    def environment(self) -> dict[str, str]:
        """Variables: the config's `vars`, then the folder's `.env` (which wins, as in `appwrite run`)."""
        env = dict(self.vars)
        env.update(read_dotenv(self.path / ".env"))
        return env

    # -- files ----------------------------------------------------------------------------------
    def ignore_rules(self) -> IgnoreRules:
        if self.ignore is not None:
            return IgnoreRules(self.ignore)
        gitignore = self.path / ".gitignore"
        if gitignore.is_file():
            return IgnoreRules(gitignore.read_text(encoding="utf-8", errors="replace").splitlines())
        return IgnoreRules()

    def is_ignored(self, path: Path, rules: IgnoreRules | None = None) -> bool:
        """Whether a path under the folder is outside the deployment (checks every parent too)."""
        try:
            rel = Path(os.path.abspath(path)).relative_to(self.path)
        except ValueError:
            return True
        if any(_inside(Path(os.path.abspath(path)), ex) for ex in self.extra_excludes):
            return True
        rules = rules or self.ignore_rules()
        parts = rel.parts
        for i in range(1, len(parts) + 1):
            if parts[i - 1] in ALWAYS_IGNORED:
                return True
            if rules.ignored("/".join(parts[:i]), is_dir=i < len(parts) or os.path.isdir(path)):
                return True
        return False

    def files(self) -> dict[str, tuple[int, int]]:
        """The deployment's files: relative posix path -> (size, mtime_ns)."""
        rules = self.ignore_rules()
        excludes = [Path(os.path.abspath(e)) for e in self.extra_excludes]
        found: dict[str, tuple[int, int]] = {}
        for root, dirs, names in os.walk(self.path):
            root_path = Path(root)
            rel_root = root_path.relative_to(self.path).as_posix()
            rel_root = "" if rel_root == "." else rel_root + "/"
            keep = []
            for d in sorted(dirs):
                full = root_path / d
                if d in ALWAYS_IGNORED or rules.ignored(rel_root + d, True) or \
                        any(_inside(full, ex) for ex in excludes):
                    continue
                if os.path.islink(full):  # packed as a link, never followed
                    names.append(d)
                    continue
                keep.append(d)
            dirs[:] = keep
            for name in sorted(names):
                rel = rel_root + name
                if rules.ignored(rel, False):
                    continue
                try:
                    st = os.lstat(root_path / name)
                except OSError:
                    continue  # removed while we walked
                found[rel] = (st.st_size, st.st_mtime_ns)
        return found

    def pack(self, files: dict[str, tuple[int, int]] | None = None) -> bytes:
        """The deployment archive (tar.gz) of the folder's files."""
        files = self.files() if files is None else files
        buf = io.BytesIO()
        with tarfile.open(fileobj=buf, mode="w:gz", compresslevel=1) as tar:
            for rel in sorted(files):
                try:
                    tar.add(self.path / rel, arcname=rel, recursive=False)
                except OSError:
                    continue  # removed since listed: the watcher reports it again
        return buf.getvalue()


@dataclass
class Project:
    root: Path
    project_id: str
    config_file: Path | None
    functions: list[FunctionConfig]
    endpoint: str = ""
    notes: list[str] = field(default_factory=list)


def _inside(path: Path, parent: Path) -> bool:
    return path == parent or parent in path.parents


def read_dotenv(path: Path) -> dict[str, str]:
    env: dict[str, str] = {}
    if not path.is_file():
        return env
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        line = line.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, _, value = line.removeprefix("export ").partition("=")
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        env[key.strip()] = value
    return env


def find_config(start: Path, upward: bool = True, within: Path | None = None) -> Path | None:
    """The CLI's project config in `start` (or, with `upward`, its nearest parent that has one).
    With `within`, the search upwards stays inside that folder (and stays in `start` when
    `start` is not inside it)."""
    start = Path(os.path.abspath(start))
    folders = [start, *start.parents] if upward else [start]
    if within is not None:
        within = Path(os.path.abspath(within))
        folders = [start] + [f for f in folders[1:] if start.is_relative_to(within) and f.is_relative_to(within)]
    for folder in folders:
        for name in CONFIG_NAMES:
            if (folder / name).is_file():
                return folder / name
    return None


def load_project(path: Path | str, project_id: str | None = None) -> Project:
    path = Path(os.path.abspath(path))
    if path.is_file():
        return _from_config(path, project_id)
    if not path.is_dir():
        raise ProjectError(f"{path} does not exist.")
    config = find_config(path, upward=False)
    if config is not None:
        return _from_config(config, project_id)
    return _from_folder(path, project_id)


def function_in_folder(folder: Path | str) -> tuple[str, str] | None:
    """(project id, function id) of the function whose code is in `folder`: the entry with that
    `path` in the nearest appwrite.config.json (in the folder or above it) that has one, else the
    one function `dev FOLDER` makes of a folder without a config; None when neither applies."""
    folder = Path(os.path.abspath(folder))
    start = folder
    while (config := find_config(start)) is not None:
        try:
            project = _from_config(config, None)
        except ProjectError:
            project = None
        for fn in project.functions if project else ():
            if fn.path == folder:
                return project.project_id, fn.id
        if config.parent.parent == config.parent:
            break
        start = config.parent.parent
    try:
        project = load_project(folder)
    except ProjectError:
        return None
    if project.config_file is None:
        return project.project_id, project.functions[0].id
    return None


def _as_list(value, key: str, fid: str) -> list[str]:
    if value in (None, ""):
        return []
    if isinstance(value, str):
        return [value]
    if not isinstance(value, list):
        raise ProjectError(f"Function {fid}: `{key}` must be a list of strings.")
    return [str(v) for v in value]


def _from_config(config: Path, project_id: str | None) -> Project:
    try:
        data = json.loads(config.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ProjectError(f"{config} is not valid JSON: {exc}")
    if not isinstance(data, dict):
        raise ProjectError(f"{config} must hold a JSON object.")
    root = config.parent
    pid = project_id or str(data.get("projectId") or "") or DEFAULT_PROJECT
    project = Project(root=root, project_id=pid, config_file=config, functions=[],
                      endpoint=str(data.get("endpoint") or ""))
    if not data.get("projectId") and not project_id:
        project.notes.append(f"{config.name} has no projectId: using project '{pid}'.")
    seen = set()
    for raw in data.get("functions") or []:
        fn = _function_from_config(raw, root)
        if fn.id in seen:
            raise ProjectError(f"Function id {fn.id} appears twice in {config.name}.")
        seen.add(fn.id)
        project.functions.append(fn)
    if not project.functions:
        project.notes.append(f"{config.name} lists no functions.")
    return project


def _function_from_config(raw: dict, root: Path) -> FunctionConfig:
    if not isinstance(raw, dict):
        raise ProjectError("Each entry of `functions` must be an object.")
    fid = str(raw.get("$id") or raw.get("id") or "")
    if not fid:
        raise ProjectError(f"A function in the config has no `$id`: {json.dumps(raw)[:200]}")
    runtime = str(raw.get("runtime") or "")
    if language_for_runtime(runtime) is None:
        raise ProjectError(f"Function {fid}: runtime '{runtime}' is not supported. "
                           f"Run `python -m emulator runtimes` for the list.")
    name = str(raw.get("name") or fid)
    folder = Path(os.path.abspath(root / str(raw.get("path") or f"functions/{name}")))
    if not folder.is_dir():
        raise ProjectError(f"Function {fid}: folder {folder} does not exist (`path` in the config).")
    entrypoint = str(raw.get("entrypoint") or "")
    if not entrypoint:
        raise ProjectError(f"Function {fid}: `entrypoint` is missing.")
    variables = raw.get("vars") or {}
    if isinstance(variables, list):  # the CLI keeps [{key, value}]
        variables = {str(v.get("key")): str(v.get("value", "")) for v in variables if isinstance(v, dict) and v.get("key")}
    elif not isinstance(variables, dict):
        raise ProjectError(f"Function {fid}: `vars` must be a list of {{key, value}} or an object.")
    ignore = raw.get("ignore")
    return FunctionConfig(
        id=fid, name=name, runtime=runtime, path=folder, entrypoint=entrypoint,
        commands=str(raw.get("commands") or ""),
        ignore=None if ignore is None else _as_list(ignore, "ignore", fid),
        timeout=int(raw.get("timeout") or 15), schedule=str(raw.get("schedule") or ""),
        events=_as_list(raw.get("events"), "events", fid),
        execute=_as_list(raw.get("execute", ["any"]), "execute", fid),
        scopes=_as_list(raw.get("scopes"), "scopes", fid),
        logging=bool(raw.get("logging", True)), enabled=bool(raw.get("enabled", True)),
        specification=str(raw.get("specification") or ""),
        vars={str(k): str(v) for k, v in variables.items()})


# -- a folder without config --------------------------------------------------------------------
# (language key, marker files that decide it, file patterns that suggest it), most specific first.
DETECTORS = [
    ("deno", ("deno.json", "deno.jsonc"), ()),
    ("node", ("package.json",), ()),
    ("python", ("requirements.txt", "pyproject.toml", "setup.py"), ("*.py",)),
    ("php", ("composer.json",), ("*.php",)),
    ("ruby", ("Gemfile",), ("*.rb",)),
    ("java", ("pom.xml", "build.gradle"), ("*.java",)),
    ("kotlin", ("build.gradle.kts",), ("*.kt",)),
    ("cpp", ("CMakeLists.txt",), ("*.cc", "*.cpp")),
    ("node", (), ("*.js", "*.mjs", "*.cjs")),
    ("deno", (), ("*.ts",)),
]
ENTRYPOINTS = {
    "node": ("src/main.js", "src/index.js", "index.js", "main.js", "src/main.mjs", "index.mjs"),
    "python": ("src/main.py", "main.py", "index.py", "src/index.py"),
    "deno": ("src/main.ts", "main.ts", "index.ts", "mod.ts"),
    "php": ("src/index.php", "index.php", "src/main.php", "main.php"),
    "ruby": ("lib/main.rb", "src/main.rb", "main.rb", "index.rb"),
    "java": ("src/Main.java", "Main.java"),
    "kotlin": ("src/Main.kt", "Main.kt"),
    "cpp": ("src/index.cc", "src/main.cc", "index.cc", "main.cc", "src/main.cpp", "main.cpp"),
}


def _slug(name: str) -> str:
    slug = re.sub(r"[^a-z0-9._-]+", "-", name.lower()).strip("-._")[:36]
    return slug or "function"


def detect_language(folder: Path) -> tuple[str, str] | None:
    """(language key, the file that decided it), looking at the folder and its src/."""
    for key, markers, patterns in DETECTORS:
        if key not in LANGUAGES:
            continue
        for marker in markers:
            if (folder / marker).is_file():
                return key, marker
        for pattern in patterns:
            for base in (folder, folder / "src", folder / "lib"):
                hit = next(iter(sorted(base.glob(pattern))), None) if base.is_dir() else None
                if hit is not None:
                    return key, hit.relative_to(folder).as_posix()
    return None


def pick_version(language) -> str:
    """The runtime version closest to the toolchain on this machine (newest known when unclear)."""
    found = re.search(r"(\d+)(?:\.(\d+))?", language.toolchain().version or "")
    if found:
        major, minor = found.group(1), found.group(2) or "0"
        for candidate in (f"{major}.{minor}", f"{major}.0", major):
            if candidate in language.versions:
                return candidate
    return language.versions[-1]


def detect_entrypoint(folder: Path, key: str, language) -> tuple[str, str]:
    """(entrypoint, why)."""
    if key == "node" and (folder / "package.json").is_file():
        try:
            main = json.loads((folder / "package.json").read_text(encoding="utf-8")).get("main")
        except (OSError, ValueError):
            main = None
        if isinstance(main, str) and (folder / main).is_file():
            return main.removeprefix("./"), "package.json `main`"
    for candidate in ENTRYPOINTS.get(key, ()):
        if (folder / candidate).is_file():
            return candidate, "found"
    return language.default_entrypoint, "language default (file not found)"


def _from_folder(folder: Path, project_id: str | None) -> Project:
    detected = detect_language(folder)
    if detected is None:
        raise ProjectError(
            f"No {CONFIG_NAMES[0]} in {folder}, and no function code recognised there "
            f"(looked for package.json, requirements.txt, *.py, *.js, ...). Pass a project or function folder.")
    key, reason = detected
    language = LANGUAGES[key]
    runtime = f"{key}-{pick_version(language)}"
    entrypoint, why = detect_entrypoint(folder, key, language)
    fid = _slug(folder.name)
    fn = FunctionConfig(id=fid, name=folder.name, runtime=runtime, path=folder, entrypoint=entrypoint,
                        ignore=None)
    pid = project_id or DEFAULT_PROJECT
    project = Project(root=folder, project_id=pid, config_file=None, functions=[fn])
    project.notes.append(
        f"No {CONFIG_NAMES[0]}: treating {folder} as one function '{fid}', runtime {runtime} "
        f"(detected from {reason}), entrypoint {entrypoint} ({why}), project '{pid}'.")
    return project
