"""Appwrite system events delivered to functions (`trigger` in the CLI, `POST /v1/emulator/events`).

The emulator has no users, databases or storage of its own, so nothing raises these events by
itself; a developer raises them to test an event-driven function. Delivery is what Appwrite's
functions worker does: every enabled function whose `events` match gets an asynchronous execution
with trigger `event`, header `x-appwrite-event` set to the event and the event payload as body.

Matching follows Appwrite's `Event::generateEvents`: a concrete event such as
`databases.db1.collections.c1.documents.d1.create` stands for every form in which any of its
resource ids is `*` (`databases.*.collections.c1.documents.*.create`, ...), and for its parent
resources (`databases.db1.collections.c1.documents.d1`, `databases.db1.collections.c1`,
`databases.db1`). A function subscribed to any of those forms receives it. A `*` in the event
itself (`users.*.create`) matches any one segment, so it reaches `users.u1.create` subscribers too.
Headers and body are those of Appwrite's worker: JSON content type, the event as `x-appwrite-event`.
"""
from __future__ import annotations

import base64
import itertools
import json

from ..errors import APPWRITE_VERSION, AppwriteError
from .executions import Caller, new_execution
from .state import State

ACTIONS = {"create", "update", "delete", "upsert"}
MAX_EVENT_LENGTH = 256
# What Appwrite's functions worker sends with an event execution (Workers/Functions.php).
EVENT_HEADERS = {"user-agent": f"Appwrite/{APPWRITE_VERSION}", "content-type": "application/json"}


def _split(event: str) -> tuple[list[tuple[str, str]], str, str]:
    """`type.id[.subtype.id[.subsubtype.id]][.action[.attribute]]` -> (pairs, action, attribute)."""
    parts = event.split(".")
    pairs, i = [], 0
    while i + 1 < len(parts) and len(pairs) < 3 and not (i >= 2 and parts[i] in ACTIONS):
        pairs.append((parts[i], parts[i + 1]))
        i += 2
    rest = parts[i:]
    if not pairs or len(rest) > 2 or (rest and rest[0] not in ACTIONS):
        raise AppwriteError("general_argument_invalid",
                            f"Invalid event '{event}': expected <resource>.<id>[.<sub>.<id>...][.<action>[.<attribute>]], "
                            f"action one of {', '.join(sorted(ACTIONS))}.")
    action = rest[0] if rest else ""
    attribute = rest[1] if len(rest) > 1 else ""
    return pairs, action, attribute


def event_variants(event: str) -> set[str]:
    """Every event string Appwrite would match for this concrete event."""
    pairs, action, attribute = _split(event)
    forms: list[list[tuple[str, bool]]] = []  # segments, each (text, is_id)

    def form(depth: int, *tail: str) -> list[tuple[str, bool]]:
        segs = [s for t, rid in pairs[:depth] for s in ((t, False), (rid, True))]
        return segs + [(t, False) for t in tail if t]

    if action:
        if attribute:
            forms.append(form(len(pairs), action, attribute))
        forms.append(form(len(pairs), action))
        if attribute:
            forms.append(form(1, action, attribute))
    for depth in range(len(pairs), 0, -1):
        forms.append(form(depth))
    variants = set()
    for segs in forms:
        ids = [i for i, (_, is_id) in enumerate(segs) if is_id]
        for mask in itertools.product((False, True), repeat=len(ids)):
            out = [text for text, _ in segs]
            for index, wild in zip(ids, mask):
                if wild:
                    out[index] = "*"
            variants.add(".".join(out))
    return variants


def _segments_match(a: str, b: str) -> bool:
    sa, sb = a.split("."), b.split(".")
    return len(sa) == len(sb) and all(x == y or x == "*" or y == "*" for x, y in zip(sa, sb))


def event_matches(subscription: str, event: str, variants: set[str] | None = None) -> bool:
    variants = event_variants(event) if variants is None else variants
    if subscription in variants:
        return True
    return "*" in event and any(_segments_match(subscription, v) for v in variants)


async def deliver_event(state: State, project: str, event: str, data) -> dict:
    """Queue an `event` execution for every subscribed function. Returns what was queued and skipped."""
    event = (event or "").strip()
    if not event or len(event) > MAX_EVENT_LENGTH:
        raise AppwriteError("general_argument_invalid", "Param \"event\" must be a non-empty event name.")
    variants = event_variants(event)
    body = data if isinstance(data, str) else json.dumps(data if data is not None else {}, separators=(",", ":"))
    queued, skipped = [], []
    for function in state.store.select("functions", project, ""):
        if not any(event_matches(s, event, variants) for s in function.get("events") or []):
            continue
        if not function.get("enabled", True):
            skipped.append({"functionId": function["$id"], "reason": "function is disabled"})
            continue
        deployment = state.store.get("deployments", project, function["$id"], function.get("deploymentId") or "")
        if deployment is None or deployment.get("status") != "ready":
            skipped.append({"functionId": function["$id"], "reason": "no active deployment"})
            continue
        doc = new_execution(function, deployment["$id"], trigger="event", method="POST", path="/",
                            user_headers=EVENT_HEADERS, caller=Caller())
        # Stored like create_execution stores async requests: the body base64-encoded.
        doc["_request"] = {"body": base64.b64encode(body.encode()).decode(), "headers": dict(EVENT_HEADERS),
                           "ip": "", "event": event}  # no HTTP client: Appwrite sends an empty client ip
        state.store.insert("executions", project, function["$id"], doc)
        await state.runner.enqueue(project, function["$id"], doc["$id"])
        queued.append({"functionId": function["$id"], "executionId": doc["$id"]})
    return {"event": event, "executions": queued, "skipped": skipped}
