"""Appwrite's JSON response models, in their newest shape.

Documents are stored in the newest shape; these functions pick the public fields (with their
defaults, never `null` where the SDKs' models reject it) and tag the result with its model name
(response_formats.Model), so that a client asking for an older `X-Appwrite-Response-Format` gets
it reshaped by Appwrite's response filters in one place (response_formats.shape). Executions also
carry `functionId`, which 1.9.x clients read, next to the 2.x `resourceId`/`resourceType`.
"""
from __future__ import annotations

from .errors import APPWRITE_VERSION
from .response_formats import Model

FUNCTION_DEFAULTS = {
    "$id": "", "$createdAt": "", "$updatedAt": "", "execute": [], "name": "", "description": "",
    "enabled": True, "live": True, "logging": True, "runtime": "", "deploymentRetention": 0,
    "deploymentId": "", "deploymentCreatedAt": "", "latestDeploymentId": "", "latestDeploymentCreatedAt": "",
    "latestDeploymentStatus": "", "scopes": [], "vars": [], "events": [], "schedule": "", "interval": None,
    "timeout": 15, "entrypoint": "", "commands": "", "version": "v5", "installationId": "",
    "providerRepositoryId": "", "providerBranch": "", "providerRootDirectory": "", "providerSilentMode": False,
    "providerBranches": [], "providerPaths": [], "buildSpecification": "s-1vcpu-512mb",
    "runtimeSpecification": "s-1vcpu-512mb", "emailEnabled": False,
}
DEPLOYMENT_DEFAULTS = {
    "$id": "", "$createdAt": "", "$updatedAt": "", "type": "manual", "resourceId": "", "resourceType": "functions",
    "entrypoint": "", "sourceSize": 0, "buildSize": 0, "totalSize": 0, "buildId": "", "activate": False,
    "screenshotLight": "", "screenshotDark": "", "status": "waiting", "buildLogs": "", "buildDuration": 0,
    "providerRepositoryName": "", "providerRepositoryOwner": "", "providerRepositoryUrl": "",
    "providerCommitHash": "", "providerCommitAuthorUrl": "", "providerCommitAuthor": "",
    "providerCommitMessage": "", "providerCommitUrl": "", "providerBranch": "", "providerBranchUrl": "",
}
EXECUTION_DEFAULTS = {
    "$id": "", "$createdAt": "", "$updatedAt": "", "$permissions": [], "resourceId": "",
    "resourceType": "functions", "deploymentId": "", "trigger": "http", "status": "waiting",
    "requestMethod": "POST", "requestPath": "/", "requestHeaders": [], "responseStatusCode": 0,
    "responseBody": "", "responseHeaders": [], "logs": "", "errors": "", "duration": 0.0, "scheduledAt": None,
}
VARIABLE_DEFAULTS = {
    "$id": "", "$createdAt": "", "$updatedAt": "", "key": "", "description": "", "value": "", "secret": False,
    "resourceType": "function", "resourceId": "",
}


def parse_version(text: str | None) -> tuple[int, ...]:
    if not text:
        return tuple(int(p) for p in APPWRITE_VERSION.split("."))
    parts = []
    for piece in text.strip().split(".")[:3]:
        # ASCII digits only ("²" is a digit to isdigit(), not to int()), and few: int() refuses
        # thousands of them, and no version part is longer.
        digits = "".join(ch for ch in piece if "0" <= ch <= "9")[:9]
        parts.append(int(digits) if digits else 0)
    while len(parts) < 3:
        parts.append(0)
    return tuple(parts)


def _pick(doc: dict, defaults: dict) -> dict:
    out = {}
    for key, default in defaults.items():
        value = doc.get(key, default)
        if value is None and default is not None:
            value = default
        out[key] = value
    return out


def variable_model(doc: dict) -> Model:
    out = _pick(doc, VARIABLE_DEFAULTS)
    if out["secret"]:
        out["value"] = ""
    return Model("variable", out)


def function_model(doc: dict, variables: list[dict]) -> Model:
    out = _pick(doc, FUNCTION_DEFAULTS)
    out["vars"] = [dict(variable_model(v)) for v in variables]
    return Model("function", out)


def deployment_model(doc: dict) -> Model:
    out = _pick(doc, DEPLOYMENT_DEFAULTS)
    for extra in ("chunksTotal", "chunksUploaded"):
        if extra in doc:
            out[extra] = doc[extra]
    return Model("deployment", out)


def execution_model(doc: dict) -> Model:
    out = _pick(doc, EXECUTION_DEFAULTS)
    out["responseHeaders"] = [{"name": str(h["name"]), "value": str(h["value"])} for h in out["responseHeaders"]]
    out["requestHeaders"] = [{"name": str(h["name"]), "value": str(h["value"])} for h in out["requestHeaders"]]
    # Clients before 2.0 read `functionId`; newer ones `resourceId`. Both are harmless to either
    # (a request naming a format before 2.0 gets only `functionId`, as from Appwrite).
    out["functionId"] = out["resourceId"]
    return Model("execution", out)


def list_model(key: str, total: int, items: list[dict], selection: list[str] | None = None) -> Model:
    return Model(f"{key}List", {"total": total, key: items}, items_key=key, selection=selection)
