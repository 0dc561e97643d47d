"""Responses shaped for the client's `X-Appwrite-Response-Format`, as Appwrite's response filters do.

Models are rendered in the newest shape (serializers.py) and tagged with their Appwrite model name
(`Model`). A request that names an older format gets each filter whose version is newer than that
format applied in turn, newest first, exactly as Appwrite chains them (app/controllers/general.php,
src/Appwrite/Utopia/Response/Filters/V16-V27.php): fields added later are dropped, renamed ones get
their old names back. As in Appwrite, a filter reshapes the response's own model and the items of a
list, never models nested inside them (a function's `vars` keep the newest variable shape).

A deployment list's `Query.select` (Appwrite's ListSelection filter) is applied last, after the
version filters: each item keeps the selected attributes and every `$` attribute.

`shape` is the one entry point; the response-format middleware calls it for every JSON answer that
carries a Model.
"""
from __future__ import annotations

from datetime import datetime, timezone

from .ids import to_iso
from .schedule import CronError, next_run

# The model a list's items have, by the list's key (Appwrite's MODEL_*_LIST).
LIST_ITEMS = {"functions": "function", "deployments": "deployment", "executions": "execution",
              "variables": "variable", "runtimes": "runtime", "specifications": "specification",
              "rules": "proxyRule"}


class Model(dict):
    """A JSON response document that says which Appwrite model it is; a list model also names its
    items' key and may carry a Query.select selection."""
    __slots__ = ("name", "items_key", "selection")

    def __init__(self, name: str, data: dict, items_key: str = "", selection: list[str] | None = None):
        super().__init__(data)
        self.name, self.items_key, self.selection = name, items_key, selection


def _rename(doc: dict, new: str, old: str) -> None:
    """Appwrite's `if (isset($c[new])) { $c[old] = $c[new]; unset($c[new]); }` (null counts as unset)."""
    if doc.get(new) is not None:
        doc[old] = doc.pop(new)


def _drop(doc: dict, *keys: str) -> None:
    for key in keys:
        doc.pop(key, None)


# -- the filters, one function per (version, model) --------------------------------------------

def _v27_execution(doc: dict) -> None:  # 2.0.0 -> 1.9.x
    _rename(doc, "resourceId", "functionId")
    _drop(doc, "resourceType")


def _v21_function(doc: dict) -> None:  # 1.9.0 -> 1.8.x: one specification
    spec = doc.get("buildSpecification")
    doc["specification"] = spec if spec is not None else doc.get("specification")
    _drop(doc, "buildSpecification", "runtimeSpecification")


def _v19_function(doc: dict) -> None:  # 1.7.0 -> 1.6.x
    doc["deployment"] = doc.get("deploymentId") or ""
    _drop(doc, "deploymentId", "deploymentCreatedAt", "latestDeploymentId", "latestDeploymentCreatedAt",
          "latestDeploymentStatus")


def _v19_deployment(doc: dict) -> None:
    doc["size"] = doc.get("sourceSize", "")
    doc["buildTime"] = doc.get("buildDuration", "")
    _drop(doc, "sourceSize", "buildDuration", "totalSize", "screenshotLight", "screenshotDark")


def _v19_variable(doc: dict) -> None:
    _drop(doc, "secret")


def _v19_proxy_rule(doc: dict) -> None:
    doc["resourceType"] = doc.get("deploymentResourceType") or ""
    doc["resourceId"] = doc.get("deploymentResourceId") or ""
    _drop(doc, "deploymentResourceType", "deploymentResourceId", "type", "trigger", "triggerData",
          "redirectStatusCode", "deploymentId", "deploymentVcsProviderBranch")


def _v19_usage_function(doc: dict) -> None:
    _drop(doc, "buildsSuccessTotal", "buildsFailedTotal", "buildsTimeAverage", "buildsSuccess", "buildsFailed")


def _v19_usage_functions(doc: dict) -> None:
    _drop(doc, "buildsSuccessTotal", "buildsFailedTotal", "buildsSuccess", "buildsFailed")


def _v18_function(doc: dict) -> None:  # 1.6.0 -> 1.5.x
    _drop(doc, "scopes", "specification")


def _v18_execution(doc: dict) -> None:
    # Appwrite's V18 would also turn a completed 4xx into `failed`, but it tests `statusCode`, which
    # no execution has at this point of the chain (V16 renames it later): only the drop takes effect.
    _drop(doc, "scheduledAt")


def _v18_runtime(doc: dict) -> None:
    _drop(doc, "key")


def _v16_deployment(doc: dict) -> None:  # 1.4.0 -> 1.3.x
    if doc.get("buildLogs") is not None:
        doc["buildStderr"] = ""
        doc["buildStdout"] = doc.pop("buildLogs")
    if doc.get("buildSize") is not None:
        size = doc.get("size")
        doc["size"] = (size if isinstance(size, (int, float)) else 0) + doc.pop("buildSize")


def _v16_execution(doc: dict) -> None:
    for new, old in (("responseStatusCode", "statusCode"), ("responseBody", "response"), ("logs", "stdout"),
                     ("errors", "stderr")):
        _rename(doc, new, old)


def _v16_function(doc: dict) -> None:
    # The emulator keeps no previous run of a cron expression: schedulePrevious stays empty.
    doc["schedulePrevious"] = ""
    doc["scheduleNext"] = ""
    if doc.get("schedule"):
        try:
            doc["scheduleNext"] = to_iso(next_run(doc["schedule"], datetime.now(timezone.utc)))
        except CronError:
            pass


def _v16_variable(doc: dict) -> None:
    _rename(doc, "resourceId", "functionId")


# (format below which the filter applies, {model: filter}), in the order Appwrite applies them.
FILTERS: list[tuple[tuple[int, int, int], dict]] = [
    ((2, 0, 0), {"execution": _v27_execution}),
    ((1, 9, 0), {"function": _v21_function}),
    ((1, 7, 0), {"function": _v19_function, "deployment": _v19_deployment, "variable": _v19_variable,
                 "proxyRule": _v19_proxy_rule, "usageFunction": _v19_usage_function,
                 "usageFunctions": _v19_usage_functions}),
    ((1, 6, 0), {"function": _v18_function, "execution": _v18_execution, "runtime": _v18_runtime}),
    ((1, 4, 0), {"function": _v16_function, "deployment": _v16_deployment, "execution": _v16_execution,
                 "variable": _v16_variable}),
]


def _item_model(model: Model) -> str:
    """The model the filters reshape: a list's items, or the model itself."""
    return LIST_ITEMS.get(model.items_key, "") if model.items_key else model.name


def _filters_for(model: Model, fmt: tuple | None) -> list:
    if fmt is None:
        return []
    name = _item_model(model)
    return [filters[name] for version, filters in FILTERS if fmt < version and name in filters]


def needs_shaping(model: Model, fmt: tuple | None) -> bool:
    """Whether `shape` would change anything (most answers to most clients are sent as rendered)."""
    return model.selection is not None or bool(_filters_for(model, fmt))


def shape(model: Model, fmt: tuple | None) -> dict:
    """`model` as a client asking for response format `fmt` (None: no header, the newest shape)
    receives it, with a list's selection applied. Returns a new plain dict; `model` is unchanged."""
    if model.items_key:
        items = [dict(item) for item in model[model.items_key]]
        out = {**model, model.items_key: items}
    else:
        items = [dict(model)]
        out = items[0]
    for apply in _filters_for(model, fmt):
        for item in items:
            apply(item)
    if model.selection is not None and model.items_key:
        wanted = set(model.selection)
        out[model.items_key] = [{k: v for k, v in item.items() if k in wanted or k.startswith("$")} for item in items]
    return out
