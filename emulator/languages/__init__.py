"""Registry of languages: every module in this package that defines a `Language` subclass adds one.

Adding a language is adding a module; nothing here needs editing.
"""
from __future__ import annotations

import importlib
import pkgutil

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


def language_for_runtime(runtime_id: str) -> Language | None:
    """`python-3.11` -> the Python language (the key is everything before the last `-`)."""
    key, _, version = runtime_id.rpartition("-")
    lang = LANGUAGES.get(key)
    if lang is None or version not in lang.versions:
        return None
    return lang


__all__ = ["LANGUAGES", "Language", "ServerCommand", "Toolchain", "BuildError", "language_for_runtime",
           "runtime_ids"]
