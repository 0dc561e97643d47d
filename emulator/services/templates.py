"""Function templates (Appwrite's `templateFunction`): the emulator's own starters.

Appwrite lists templates from its catalogue of GitHub repositories; the emulator offers what it can
create a function from without a network: the starter of starters/index.json, one template whose
runtimes are every runtime a starter exists for (`python -m emulator init` copies the same files).
"""
from __future__ import annotations

import functools
import json

from .._resources import STARTERS_DIR
from ..errors import AppwriteError, invalid_param
from ..languages import LANGUAGES, runtime_ids

# Appwrite's use cases, the values `useCases` filters on.
USE_CASES = ["starter", "databases", "ai", "messaging", "utilities", "dev-tools", "auth"]


@functools.lru_cache(maxsize=1)
def _templates() -> tuple[dict, ...]:
    """Built once: the starters ship with the emulator and do not change while it runs."""
    starters = json.loads((STARTERS_DIR / "index.json").read_text(encoding="utf-8"))
    runtimes = []
    for lang in sorted(LANGUAGES.values(), key=lambda l: l.key):
        starter = lang.key.split("-", 1)[0]  # python-ml uses the python starter, as the Appwrite CLI does
        if starter not in starters:
            continue
        context = starters[starter]["context"]
        runtimes += [{"name": f"{lang.key}-{version}", "commands": context.get("commands", ""),
                      "entrypoint": context.get("entrypoint", ""), "providerRootDirectory": starter}
                     for version in lang.versions]
    starter_template = {
        "icon": "icon-lightning-bolt", "id": "starter", "name": "Starter function",
        "tagline": "A simple function to get started. Edit this function to explore endless possibilities with "
                   "Appwrite Functions.",
        "permissions": ["any"], "events": [], "cron": "", "timeout": 15, "useCases": ["starter"],
        "runtimes": runtimes,
        "instructions": "For documentation and instructions see starters/README.md of the emulator.",
        # Not from a VCS repository: the files are the emulator's starters/ directory.
        "vcsProvider": "", "providerRepositoryId": "", "providerOwner": "", "providerVersion": "",
        "variables": [], "scopes": [],
    }
    return (starter_template,)


def list_templates(params: dict) -> tuple[int, list[dict]]:
    """Templates offering any of `runtimes` and of `useCases` (each filter only when given), paged
    by `limit` (25 by default) and `offset`; the total counts every match unless `total` is false."""
    runtimes, use_cases = set(params.get("runtimes") or ()), set(params.get("useCases") or ())
    # Appwrite whitelists both filters: an unknown runtime or use case is a 400, not an empty list.
    for name, values, allowed in (("runtimes", runtimes, runtime_ids()), ("useCases", use_cases, USE_CASES)):
        if not values <= set(allowed):
            raise invalid_param(name, "Value must a valid array no longer than 100 items and Value must be one of ("
                                + ", ".join(allowed) + ")")
    matches = [t for t in _templates()
               if (not runtimes or runtimes & {r["name"] for r in t["runtimes"]})
               and (not use_cases or use_cases & set(t["useCases"]))]
    offset, limit = params.get("offset", 0), params.get("limit", 25)
    total = len(matches) if params.get("total", True) else 0  # `total=false`: not counted, as lists do
    return total, [json.loads(json.dumps(t)) for t in matches[offset:offset + limit]]


def get_template(template_id: str) -> dict:
    for template in _templates():
        if template["id"] == template_id:
            return json.loads(json.dumps(template))  # a copy: callers may change what they get
    raise AppwriteError("function_template_not_found")
