"""Permission roles as Appwrite 1.9.6 checks them: the `execute` list of a function, and who may
execute it without a key.

`execute` holds role strings `name[:identifier][/dimension]` (`any`, `guests`, `users/verified`,
`user:<id>`, `team:<id>/<role>`, `member:<id>`, `label:<name>`); Appwrite's Roles validator (utopia
database) refuses anything else with the texts reproduced in `role_error`. The emulator has no user
accounts, so a request without a key is always the `guests` role: it may execute a function whose
`execute` includes `any` or `guests`, and nothing that names users, teams or labels.
"""
from __future__ import annotations

import json
import re

MAX_ROLES = 100
ROLES = ("any", "guests", "users", "user", "team", "member", "label")
USER_DIMENSIONS = ("verified", "unverified")
# role -> (identifier allowed, identifier required, dimension allowed, dimension options or None for any key)
_CONFIG = {
    "any": (False, False, False, None),
    "guests": (False, False, False, None),
    "users": (False, False, True, USER_DIMENSIONS),
    "user": (True, True, True, USER_DIMENSIONS),
    "team": (True, True, True, None),
    "member": (True, True, False, None),
    "label": (True, True, False, None),
}
GUEST_ROLES = ("any", "guests")  # what a request without a credential holds


def _key(max_len: int) -> re.Pattern:
    return re.compile(rf"\A[A-Za-z0-9][A-Za-z0-9._-]{{0,{max_len - 1}}}\Z")


_IDENTIFIER = _key(36)
_DIMENSION = _key(81)  # project-scoped team roles are up to 81 chars
_LABEL = re.compile(r"\A[A-Za-z0-9]{1,36}\Z")
KEY_DESCRIPTION = ("Parameter must contain at most {} chars. Valid chars are a-z, A-Z, 0-9, period, hyphen, and "
                   "underscore. Can't start with a special char")
LABEL_DESCRIPTION = "Value must be a valid string between 1 and 36 chars containing only alphanumeric chars"


def _parse(role: str) -> tuple[str, str, str]:
    """(name, identifier, dimension), as utopia's Role::parse splits them; ValueError as it throws."""
    parts = role.split(":")
    has_identifier, has_dimension = len(parts) > 1, "/" in role
    if not has_identifier and not has_dimension:
        return role, "", ""
    if has_identifier and not has_dimension:
        return parts[0], parts[1], ""
    pieces = (role if not has_identifier else parts[1]).split("/")
    if len(pieces) != 2:
        raise ValueError("Only one dimension can be provided")
    if not pieces[1]:
        raise ValueError("Dimension must not be empty")
    return (pieces[0], "", pieces[1]) if not has_identifier else (parts[0], pieces[0], pieces[1])


def role_error(roles) -> str | None:
    """Why `roles` is not a valid `execute` list (Appwrite's wording), or None if it is."""
    if not isinstance(roles, list):
        return "Roles must be an array of strings."
    if len(roles) > MAX_ROLES:
        return f"You can only provide up to {MAX_ROLES} roles."
    for role in roles:
        if not isinstance(role, str):
            return "Every role must be of type string."
        if role == "*":
            return 'Wildcard role "*" has been replaced. Use "any" instead.'
        if "role:" in role:
            return 'Roles using the "role:" prefix have been removed. Use "users", "guests", or "any" instead.'
        if not role.startswith(ROLES):
            return f'Role "{role}" is not allowed. Must be one of: {", ".join(ROLES)}.'
        try:
            name, identifier, dimension = _parse(role)
        except ValueError as exc:
            return str(exc)
        problem = _role_problem(name, identifier, dimension)
        if problem:
            return problem
    return None


def _role_problem(name: str, identifier: str, dimension: str) -> str | None:
    config = _CONFIG.get(name)
    if config is None:
        return f'Role "{name}" is not allowed. Must be one of: {", ".join(ROLES)}.'
    id_allowed, id_required, dim_allowed, options = config
    if not id_allowed and identifier:
        return f'Role "{name}" can not have an ID value.'
    if id_allowed and id_required and not identifier:
        return f'Role "{name}" must have an ID value.'
    if identifier:
        pattern, description = (_LABEL, LABEL_DESCRIPTION) if name == "label" else (_IDENTIFIER, KEY_DESCRIPTION.format(36))
        if not pattern.match(identifier):
            return f'Role "{name}" identifier value is invalid: {description}'
    if not dim_allowed and dimension:
        return f'Role "{name}" can not have a dimension value.'
    if dim_allowed and dimension:
        if options is not None and dimension not in options:
            return f'Role "{name}" dimension value is invalid. Must be one of: {", ".join(options)}.'
        if not _DIMENSION.match(dimension):
            return f'Role "{name}" dimension value is invalid: {KEY_DESCRIPTION.format(81)}'
    return None


def guests_may_execute(execute: list) -> bool:
    return any(role in GUEST_ROLES for role in execute or ())


def guest_refusal(execute: list) -> str:
    """Appwrite's message when the guests role is not in `execute` (its Authorization validator's)."""
    if not execute:
        return "No permissions provided for action 'execute'"
    # PHP's json_encode escapes `/`; the role named is the last one checked.
    given = json.dumps(list(execute), separators=(",", ":")).replace("/", "\\/")
    held = json.dumps(list(GUEST_ROLES), separators=(",", ":"))
    return f'Missing "execute" permission for role "{execute[-1]}". Only "{held}" scopes are allowed and "{given}" was given.'
