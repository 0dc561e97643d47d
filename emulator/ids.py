"""IDs and timestamps in Appwrite's formats."""
from __future__ import annotations

import os
import re
import time
from datetime import datetime, timezone

from .errors import invalid_param

# Appwrite's UID/Key rule: at most 36 chars of a-z A-Z 0-9 . _ -, not starting with . _ or -.
# `\Z`, not `$`: `$` also matches before a trailing newline, and ids name files and rows.
ID_PATTERN = re.compile(r"\A[A-Za-z0-9][A-Za-z0-9._-]{0,35}\Z")
# Appwrite's validator descriptions: `UID` for ids of existing things (path params), `Key` (which
# `CustomId` extends with `unique()`) for ids a client chooses.
UID_DESCRIPTION = ("UID must contain at most 36 chars. Valid chars are a-z, A-Z, 0-9, and underscore. "
                   "Can't start with a leading underscore")
CUSTOM_ID_DESCRIPTION = ("Parameter must contain at most 36 chars. Valid chars are a-z, A-Z, 0-9, period, hyphen, "
                         "and underscore. Can't start with a special char")


def is_valid_id(value) -> bool:
    return isinstance(value, str) and ID_PATTERN.match(value) is not None


def check_uid(name: str, value) -> str:
    """`value` if it is a valid id, else Appwrite's 400 for an invalid `name` param."""
    if not is_valid_id(value):
        raise invalid_param(name, UID_DESCRIPTION)
    return value


def is_utf8(text: str) -> bool:
    """False for strings holding lone surrogates (from JSON `\\ud800` escapes or undecodable bytes):
    they cannot be encoded as UTF-8, so they could never be answered or handed to a runtime."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def unique_id() -> str:
    """Like Appwrite's `ID::unique()`: PHP uniqid (13 hex chars of time) + 7 random hex chars."""
    t = time.time()
    sec = int(t)
    usec = int((t - sec) * 1_000_000)
    return f"{sec:08x}{usec:05x}{os.urandom(4).hex()[:7]}"


_second = (-1, "")  # the last whole second now_iso formatted, and its text (one tuple: threads call it too)


def now_iso() -> str:
    # Several per execution: formatted from time.time() directly (a tenth of the datetime route's
    # cost), the date and time of day once per second.
    global _second
    t = time.time()
    sec = int(t)
    second = _second
    if sec != second[0]:
        second = _second = (sec, time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(sec)))
    return f"{second[1]}.{int(t % 1 * 1000):03d}+00:00"


def to_iso(dt: datetime) -> str:
    """`2020-10-15T06:38:00.000+00:00`: milliseconds and an explicit offset."""
    dt = dt.astimezone(timezone.utc)
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{dt.microsecond // 1000:03d}+00:00"


def parse_iso(text: str) -> datetime | None:
    try:
        dt = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except (ValueError, TypeError, AttributeError):
        return None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=timezone.utc)
    return dt
