"""Request validation (emulator/schemas.py) checks the keywords its schemas use by hand, not with
jsonschema (whose import was ~50 ms of `dev`'s start). Here jsonschema (Draft 2020-12) is the
reference: on parameters generated for every operation, both give the same outcome, the same
cleaned parameters or the same Appwrite error."""
from __future__ import annotations

import subprocess
import sys

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator, FormatChecker

from emulator import schemas
from emulator.errors import AppwriteError


def _reference_validators() -> dict[int, Draft202012Validator]:
    formats = FormatChecker()
    for name, check in schemas.FORMATS.items():
        formats.checks(name)(check)
    return {id(schema): Draft202012Validator({"type": "object", **schema}, format_checker=formats)
            for schema in schemas.SCHEMAS.values()}


REFERENCE = _reference_validators()


def outcome(operation: str, params: dict):
    try:
        return "ok", schemas.validate(operation, params)
    except AppwriteError as exc:
        return "error", exc.code, exc.type, exc.message


def by_reference(operation: str, params: dict, monkeypatch):
    with monkeypatch.context() as patched:
        patched.setattr(schemas, "iter_errors", lambda schema, value: REFERENCE[id(schema)].iter_errors(value))
        return outcome(operation, params)


def _near(limit: int) -> st.SearchStrategy[int]:
    return st.sampled_from(sorted({0, 1, max(limit - 1, 0), limit, limit + 1}))


def value_for(schema: dict) -> st.SearchStrategy:
    """Values around what `schema` accepts: right and wrong types, lengths and numbers at its limits,
    the loose encodings clients send (strings for booleans and numbers), nested lists and objects."""
    options = [st.none(), st.booleans(), st.integers(-3, 3), st.floats(allow_nan=False, allow_infinity=False),
               st.sampled_from(["true", "false", "1", "0", "", "12", "1.5", "x", "unique()", "bad id!", "any",
                                "users", "role:all", "*/5 * * * *", "not cron", "GET", "post", "runtimes", "s-1vcpu-512mb"]),
               st.text(max_size=8), st.lists(st.text(max_size=4), max_size=3),
               st.dictionaries(st.text(max_size=3), st.text(max_size=3), max_size=2),
               st.lists(st.integers(-2, 2), max_size=2)]
    for key in ("minLength", "maxLength"):
        if key in schema:
            options.append(_near(schema[key]).map(lambda n: "a" * n))
    for key in ("minimum", "maximum"):
        if key in schema:
            options.append(st.sampled_from([schema[key] - 1, schema[key], schema[key] + 1, float(schema[key]),
                                            str(schema[key] + 1)]))
    if "maxItems" in schema:
        options.append(_near(schema["maxItems"]).map(lambda n: ["x"] * n))
    if "enum" in schema:
        options.append(st.sampled_from(schema["enum"]))
    if "items" in schema:
        options.append(st.lists(value_for(schema["items"]), max_size=3))
    return st.one_of(options)


@st.composite
def request(draw):
    operation = draw(st.sampled_from(sorted(schemas.SCHEMAS)))
    props = schemas.SCHEMAS[operation].get("properties", {})
    names = draw(st.lists(st.sampled_from(sorted(props) + ["unknownParam"]), unique=True, max_size=5)) if props else []
    return operation, {name: draw(value_for(props.get(name, {}))) for name in names}


@settings(max_examples=3000, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                    HealthCheck.too_slow])
@given(request())
def test_same_outcome_as_jsonschema(monkeypatch, req):
    operation, params = req
    assert outcome(operation, params) == by_reference(operation, params, monkeypatch)


def test_every_schema_uses_only_the_keywords_checked():
    def keywords(schema: dict):
        yield from schema
        for sub in schema.get("properties", {}).values():
            yield from keywords(sub)
        if isinstance(schema.get("items"), dict):
            yield from keywords(schema["items"])

    used = {k for schema in schemas.SCHEMAS.values() for k in keywords(schema)}
    assert used <= schemas.KNOWN_KEYWORDS, used - schemas.KNOWN_KEYWORDS
    with pytest.raises(ValueError, match="pattern"):
        list(schemas.iter_errors({"pattern": "^a$"}, "b"))


def test_the_server_imports_no_jsonschema():
    probe = ("import sys, emulator.dev.session, emulator.server, emulator.cli\n"
             "from emulator import schemas\n"
             "assert schemas.validate('createExecution', {'body': 'x', 'async': 'true'}) == {'body': 'x', 'async': True}\n"
             "print('jsonschema' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "False"
