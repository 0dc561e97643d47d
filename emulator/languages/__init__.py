"""Registry of languages: every module in this package that defines a `Language` subclass adds one.

Adding a language is adding a module; nothing here needs editing.
"""
from __future__ import annotations

import functools
import importlib
import os
import pkgutil
from typing import Iterable, Mapping

from .base import BuildError, Language, ServerCommand, Toolchain

LANGUAGES: dict[str, Language] = {}


def _discover() -> None:
    for info in pkgutil.iter_modules(__path__):
        if info.name == "base":
            continue
        module = importlib.import_module(f"{__name__}.{info.name}")
        for value in vars(module).values():
            if isinstance(value, type) and issubclass(value, Language) and value is not Language and value.key:
                LANGUAGES[value.key] = value()


_discover()


def runtime_ids() -> list[str]:
    """Every runtime id a language module here runs, `python-3.11` style, in catalog order."""
    return [f"{lang.key}-{version}" for lang in LANGUAGES.values() for version in lang.versions]


def language_for_runtime(runtime_id: str, toolchains: Mapping[str, str] | None = None) -> Language | None:
    """`python-3.11` -> the Python language bound to version 3.11 (the key is everything before the
    last `-`), and to the binary `toolchains` maps that runtime id to, if any."""
    key, _, version = runtime_id.rpartition("-")
    lang = LANGUAGES.get(key)
    if lang is None or version not in lang.versions:
        return None
    return _bound(key, version, (toolchains or {}).get(runtime_id, ""))


@functools.lru_cache(maxsize=None)
def _bound(key: str, version: str, toolchain_override: str) -> Language:
    # One bound copy per (runtime, mapping): their probes are cached on the binaries they name.
    return LANGUAGES[key].bound(version, toolchain_override)


def parse_toolchain_mapping(entries: Iterable[str]) -> dict[str, str]:
    """`RUNTIME=PATH` entries (`--toolchain python-3.12=/usr/bin/python3.12`) -> {runtime id: absolute
    path}. Raises ValueError saying what is wrong: an unknown runtime, a language whose toolchain
    cannot be mapped, a path that is not an executable file."""
    mapping: dict[str, str] = {}
    for entry in entries:
        runtime, sep, path = entry.partition("=")
        runtime, path = runtime.strip(), path.strip()
        if not sep or not runtime or not path:
            raise ValueError(f"{entry!r}: expected RUNTIME=PATH, e.g. python-3.12=/usr/bin/python3.12")
        language = language_for_runtime(runtime)
        if language is None:
            raise ValueError(f"{entry!r}: unknown runtime {runtime!r}")
        if not language.primary_binary or not language.versioned_toolchain:
            mappable = sorted(lang.key for lang in LANGUAGES.values() if lang.primary_binary and lang.versioned_toolchain)
            raise ValueError(f"{entry!r}: the {language.name} toolchain cannot be mapped to a binary "
                             f"(runtimes of {', '.join(mappable)} can)")
        resolved = os.path.abspath(os.path.expanduser(path))
        if not (os.path.isfile(resolved) and os.access(resolved, os.X_OK)):
            raise ValueError(f"{entry!r}: {resolved} is not an executable file")
        mapping[runtime] = resolved
    return mapping


__all__ = ["LANGUAGES", "Language", "ServerCommand", "Toolchain", "BuildError", "language_for_runtime",
           "parse_toolchain_mapping", "runtime_ids"]
