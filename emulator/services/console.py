"""Console logins, short-lived keys and proxy rules: what the Appwrite CLI needs beyond /functions.

The HTTP side (cookies, which requests earn a session, the JSON models) is in api/console.py,
whose docstring explains the CLI's two SDKs; this module holds the state behind it and knows
nothing about HTTP. Sessions and rules are stored documents (collections `sessions`, `rules`);
short-lived keys live in memory only (`State.ephemeral_keys`) and die with the server.
"""
from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from datetime import datetime, timedelta, timezone

from ..errors import AppwriteError, invalid_param
from ..ids import now_iso, to_iso, unique_id
from ..queries import DEFAULT_LIMIT, parse_query
from .lookup import get_function
from .state import State

SESSION_TTL = timedelta(days=365)  # Appwrite's default session length
SESSIONS = ("sessions", "console", "")  # (collection, project, parent) in the store
CLI_SESSION_EMAIL = "cli@localhost"
JWT_MAX_DURATION = 3600


# -- short-lived keys ------------------------------------------------------------------------------
def issue_ephemeral_key(state: State, project: str, lifetime: float) -> str:
    """A key the auth middleware accepts for `project` only, for `lifetime` seconds: a function's
    x-appwrite-key and a CLI JWT alike. Expired keys are dropped here, so the table stays bounded
    by the keys alive at once (it is in memory: keys do not survive a restart)."""
    now = time.time()
    state.ephemeral_keys.purge(now)
    key = "ephemeral_" + secrets.token_hex(32)
    state.ephemeral_keys[(project, key)] = now + lifetime
    return key


def create_jwt(state: State, project: str, duration: int) -> str:
    """`POST /projects/{id}/jwts`: an ephemeral key for `project`, valid `duration` seconds."""
    return issue_ephemeral_key(state, project, duration)


# -- sessions --------------------------------------------------------------------------------------
def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def _key_digest(state: State) -> str:
    """What a session remembers of the API key it was issued under ("" on an open server)."""
    key = state.settings.api_key
    return _digest(key) if key else ""


def user_id(email: str) -> str:
    """The account id behind an email: there are no user accounts, the email is the account."""
    return _digest(email.strip().lower())[:20]


def find_session(state: State, secret: str) -> dict | None:
    """The stored session `secret` (the cookie's value) opens, if it is still valid on this server:
    not expired, and issued under the API key the server runs with now."""
    if not secret:
        return None
    collection, proj, parent = SESSIONS
    doc = state.store.get(collection, proj, parent, _digest(secret))
    if doc and doc.get("expireTs", 0) > time.time() \
            and hmac.compare_digest(doc.get("keyDigest", ""), _key_digest(state)):
        return doc
    return None


def open_session(state: State, email: str, provider: str = "email", ip: str = "") -> tuple[dict, str]:
    """A new session for `email`: (stored document, secret). Only the secret's digest is stored."""
    secret = secrets.token_hex(32)
    now = datetime.now(timezone.utc)
    expire = now + SESSION_TTL
    doc = {
        "$id": _digest(secret), "sessionId": unique_id(), "$createdAt": to_iso(now), "$updatedAt": to_iso(now),
        "email": email, "userId": user_id(email), "provider": provider, "expire": to_iso(expire),
        "expireTs": expire.timestamp(), "keyDigest": _key_digest(state), "ip": ip,
    }
    collection, proj, parent = SESSIONS
    state.store.insert(collection, proj, parent, doc)
    return doc, secret


def log_in(state: State, email: str, password: str, ip: str = "") -> tuple[dict, str]:
    """An email/password login. Under `--api-key` the password must be that key, because a session
    is as powerful as the key; on an open server any password is accepted."""
    api_key = state.settings.api_key
    if api_key and not hmac.compare_digest(password.encode(), api_key.encode()):
        raise AppwriteError("user_invalid_credentials",
                            "Invalid credentials. Please check the email and password. (The emulator runs "
                            "with --api-key: log in with the API key as the password.)", 401)
    return open_session(state, email, ip=ip)


def close_session(state: State, session: dict) -> None:
    collection, proj, parent = SESSIONS
    state.store.delete(collection, proj, parent, session["$id"])


# -- proxy rules -----------------------------------------------------------------------------------
RULE_FIELDS = ("$id", "domain", "type", "trigger", "deploymentResourceType", "deploymentResourceId",
               "deploymentVcsProviderBranch", "status")
# What a rule's model shows for attributes the stored document leaves out.
_RULE_DEFAULTS = {"type": "deployment", "trigger": "manual", "deploymentResourceType": "function",
                  "deploymentVcsProviderBranch": "", "status": "verified"}


def rule_not_found() -> AppwriteError:
    return AppwriteError("rule_not_found", "Rule with the requested ID could not be found.", 404)


def rule_deployment_id(state: State, project: str, doc: dict) -> str:
    """The deployment the rule's function serves now ("" if none, or if the function is gone)."""
    try:
        return get_function(state, project, doc["deploymentResourceId"]).get("deploymentId", "")
    except AppwriteError:
        return ""


def live_rules(state: State, project: str) -> list[dict]:
    """This project's rules, dropping those whose function was deleted (Appwrite deletes them too)."""
    store = state.store
    rules = []
    for doc in store.select("rules", project, ""):
        if store.get("functions", project, "", doc["deploymentResourceId"]) is None:
            store.delete("rules", project, "", doc["$id"])
        else:
            rules.append(doc)
    return rules


def create_rule(state: State, project: str, domain: str, function_id: str, branch: str) -> dict:
    """A rule naming `domain` for the function (informational: functions are not served by domain)."""
    get_function(state, project, function_id)  # 404 function_not_found
    if any(rule["domain"] == domain for rule in live_rules(state, project)):
        raise AppwriteError("rule_already_exists", "Domain is already used. Please try again with a different domain.",
                            409)
    now = now_iso()
    doc = {"$id": unique_id(), "$createdAt": now, "$updatedAt": now, "domain": domain, "trigger": "manual",
           "deploymentResourceType": "function", "deploymentResourceId": function_id,
           "deploymentVcsProviderBranch": branch}
    state.store.insert("rules", project, "", doc)
    return doc


def list_rules(state: State, project: str, queries: list, search: str) -> tuple[int, list[dict]]:
    """(total, page) of the project's rules: `equal`/`notEqual` on RULE_FIELDS, `limit`/`offset`,
    and `search` over the domain. Rules are few (one per function at most, in practice), so they
    are filtered here rather than in SQL."""
    rules = live_rules(state, project)
    limit, offset = DEFAULT_LIMIT, 0
    for q in map(parse_query, queries):
        if q.method in ("equal", "notEqual"):
            if q.attribute not in RULE_FIELDS:
                raise invalid_param("queries", f"Invalid query: Attribute not found in schema: {q.attribute}")
            wanted = {str(v) for v in q.values}
            rules = [r for r in rules
                     if (str(r.get(q.attribute, _RULE_DEFAULTS.get(q.attribute))) in wanted) == (q.method == "equal")]
        elif q.method == "limit":  # parse_query made limit and offset ints in range
            limit = q.values[0]
        elif q.method == "offset":
            offset = q.values[0]
    search = search.strip().lower()
    if search:
        rules = [r for r in rules if search in r["domain"]]
    return len(rules), rules[offset:offset + limit]


def get_rule(state: State, project: str, rule_id: str) -> dict:
    doc = state.store.get("rules", project, "", rule_id)
    if doc is None:
        raise rule_not_found()
    return doc


def delete_rule(state: State, project: str, rule_id: str) -> None:
    get_rule(state, project, rule_id)
    state.store.delete("rules", project, "", rule_id)
