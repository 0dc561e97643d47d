"""Finding one stored document, or Appwrite's not-found error for it.

Kept apart from functions.py so that modules functions.py itself uses (variables.py) can look a
function up without importing it back.
"""
from __future__ import annotations

from ..errors import AppwriteError
from .state import State


def get_function(state: State, project: str, function_id: str) -> dict:
    doc = state.store.get("functions", project, "", function_id)
    if doc is None:
        raise AppwriteError("function_not_found")
    return doc
