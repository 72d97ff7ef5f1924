"""Validate JSON bodies and query parameters against the official SP-API models in this folder.

The Swagger 2.0 models (`orders_2026-01-01.json`, `ordersV0.json`, `feeds_2021-06-30.json`,
`notifications.json`) are read once; a body is checked
with `jsonschema` against `{"$ref": "#/definitions/X", "definitions": <all definitions of that
model>}` (draft 4, the dialect of Swagger 2.0), with `date-time` formats checked. The ORDER_CHANGE
notification is checked against `OrderChangeNotification.json` (draft 7).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import quote

import jsonschema
from jsonschema import Draft4Validator, Draft7Validator, FormatChecker

MODELS_DIR = Path(__file__).resolve().parent
SWAGGER_MODELS = ("orders_2026-01-01.json", "ordersV0.json", "feeds_2021-06-30.json", "notifications.json")
NOTIFICATION_MODEL = "OrderChangeNotification.json"


class SchemaValidationError(ValueError):
    """A body or parameter does not match the model. `field` names the offending field."""

    def __init__(self, where: str, field: str, message: str):
        self.where = where
        self.field = field
        self.detail = message
        super().__init__(f"{where}: invalid {field or '<root>'}: {message}")


class UnknownOperation(KeyError):
    pass


class Operation:
    """One operation of a Swagger model: its path, method, parameters, responses and rate plan."""

    def __init__(self, model: str, path: str, method: str, spec: dict, definitions: dict):
        self.model = model
        self.path = path
        self.method = method.upper()
        self.spec = spec
        self.operation_id: str = spec["operationId"]
        self.definitions = definitions
        self.parameters: dict[str, dict] = {p["name"]: p for p in spec.get("parameters", [])}

    @property
    def query_parameters(self) -> dict[str, dict]:
        return {n: p for n, p in self.parameters.items() if p.get("in") == "query"}

    def body_schema(self) -> dict | None:
        for p in self.parameters.values():
            if p.get("in") == "body":
                return p["schema"]
        return None

    def response_schema(self, status: int) -> tuple[bool, dict | None]:
        """(declared, schema) for a status code; declared=False when the model does not list it."""
        responses = self.spec.get("responses", {})
        resp = responses.get(str(status)) or responses.get("default")
        if resp is None:
            return False, None
        return True, resp.get("schema")


@cache
def _load(name: str) -> dict:
    return json.loads((MODELS_DIR / name).read_text(encoding="utf-8"))


@cache
def operations() -> dict[str, Operation]:
    """Every operation of the Swagger models, by operationId (first model wins on a clash)."""
    ops: dict[str, Operation] = {}
    for model in SWAGGER_MODELS:
        doc = _load(model)
        defs = doc.get("definitions", {})
        for path, methods in doc.get("paths", {}).items():
            for method, spec in methods.items():
                if isinstance(spec, dict) and "operationId" in spec:
                    ops.setdefault(spec["operationId"], Operation(model, path, method, spec, defs))
    return ops


def operation(operation_id: str) -> Operation:
    try:
        return operations()[operation_id]
    except KeyError:
        raise UnknownOperation(operation_id) from None


@cache
def _validator(model: str, schema_json: str) -> Draft4Validator:
    schema = json.loads(schema_json)
    schema = {**schema, "definitions": _load(model).get("definitions", {})}
    return Draft4Validator(schema, format_checker=FormatChecker())


@cache
def _notification_validator() -> Draft7Validator:
    return Draft7Validator(_load(NOTIFICATION_MODEL), format_checker=FormatChecker())


def _field(err: jsonschema.ValidationError) -> str:
    parts = [str(p) for p in err.absolute_path]
    if err.validator == "required" and isinstance(err.instance, dict):
        missing = [r for r in err.validator_value if r not in err.instance]
        if missing:
            parts.append(str(missing[0]))
    if err.validator == "additionalProperties" and isinstance(err.instance, dict):
        allowed = set((err.schema or {}).get("properties", {}))
        extra = [k for k in err.instance if k not in allowed]
        if extra:
            parts.append(str(extra[0]))
    return ".".join(parts)


def _check(validator: Any, instance: Any, where: str) -> None:
    errors = sorted(validator.iter_errors(instance), key=lambda e: (len(list(e.absolute_path)), str(e.message)))
    if errors:
        err = jsonschema.exceptions.best_match(errors) or errors[0]
        raise SchemaValidationError(where, _field(err), err.message)


def validate_definition(model: str, definition: str, body: Any, where: str | None = None) -> None:
    """Validate `body` against `#/definitions/<definition>` of a Swagger model file."""
    _check(_validator(model, json.dumps({"$ref": f"#/definitions/{definition}"})), body, where or definition)


def validate_request_body(operation_id: str, body: Any) -> None:
    """Validate the JSON body of a request to `operation_id`. Raises SchemaValidationError."""
    op = operation(operation_id)
    schema = op.body_schema()
    if schema is None:
        if body not in (None, b"", ""):
            raise SchemaValidationError(f"{operation_id} request", "", "the operation takes no body")
        return
    _check(_validator(op.model, json.dumps(schema)), body, f"{operation_id} request")


def validate_response(operation_id: str, status: int, body: Any) -> None:
    """Validate a response body of `operation_id` for an HTTP status (204: no body)."""
    op = operation(operation_id)
    declared, schema = op.response_schema(status)
    where = f"{operation_id} {status} response"
    if not declared:
        raise SchemaValidationError(where, "", f"status {status} is not declared by the model")
    if schema is None:
        if body not in (None, b"", "", {}):
            raise SchemaValidationError(where, "", "the model declares no body for this status")
        return
    _check(_validator(op.model, json.dumps(schema)), body, where)


def validate_notification(body: Any) -> None:
    """Validate an ORDER_CHANGE notification (a dict, or its JSON text)."""
    if isinstance(body, (str, bytes)):
        body = json.loads(body)
    _check(_notification_validator(), body, "ORDER_CHANGE notification")


def _split(values: Iterable[str]) -> list[str]:
    out: list[str] = []
    for v in values:
        out.extend(x for x in str(v).split(",") if x != "")
    return out


def validate_query(operation_id: str, query: Mapping[str, Any], *, allow_unknown: bool = False) -> dict[str, Any]:
    """Check query parameters against the operation's declared parameters and enums.

    `query` maps a name to a string or a list of strings (as `urllib.parse.parse_qs` gives).
    Arrays may be comma-separated or repeated. Returns the parsed values: integers as int, arrays
    as lists of strings, other values as strings. Raises SchemaValidationError naming the parameter.
    """
    op = operation(operation_id)
    declared = op.query_parameters
    where = f"{operation_id} query"
    parsed: dict[str, Any] = {}
    for name, raw in query.items():
        values = list(raw) if isinstance(raw, (list, tuple)) else [raw]
        param = declared.get(name)
        if param is None:
            if allow_unknown:
                continue
            raise SchemaValidationError(where, name, "unknown query parameter")
        ptype = param.get("type", "string")
        if ptype == "array":
            items = _split(values)
            if "maxItems" in param and len(items) > param["maxItems"]:
                raise SchemaValidationError(where, name, f"at most {param['maxItems']} values")
            enum = param.get("items", {}).get("enum")
            for it in items:
                if enum is not None and it not in enum:
                    raise SchemaValidationError(where, name, f"{it!r} is not one of {enum}")
            parsed[name] = items
            continue
        if len(values) != 1:
            raise SchemaValidationError(where, name, "given more than once")
        value = str(values[0])
        if ptype == "integer":
            try:
                parsed[name] = int(value)
            except ValueError:
                raise SchemaValidationError(where, name, f"{value!r} is not an integer") from None
        else:
            if param.get("format") == "date-time" and not FormatChecker().conforms(value, "date-time"):
                raise SchemaValidationError(where, name, f"{value!r} is not an ISO-8601 date-time")
            if "enum" in param and value not in param["enum"]:
                raise SchemaValidationError(where, name, f"{value!r} is not one of {param['enum']}")
            parsed[name] = value
    for name, param in declared.items():
        if param.get("required") and name not in parsed:
            raise SchemaValidationError(where, name, "required query parameter is missing")
    return parsed


def rate_plan(operation_id: str) -> tuple[float, int]:
    """(rate per second, burst) from the operation's documented usage plan table."""
    import re

    desc = operation(operation_id).spec.get("description", "")
    m = re.search(r"\|\s*([0-9.]+)\s*\|\s*([0-9]+)\s*\|", desc.split("Usage Plan", 1)[-1])
    if not m:
        raise ValueError(f"{operation_id}: no usage plan in the model")
    return float(m.group(1)), int(m.group(2))


# ---------------------------------------------------------------------- Amazon's own examples
class SandboxCase:
    """One static case of an operation's `x-amzn-api-sandbox`, exactly as the model gives it."""

    def __init__(self, operation_id: str, status: int, number: int, case: dict):
        self.operation_id, self.status, self.number = operation_id, status, number
        self.parameters: dict[str, Any] = {
            n: p["value"] for n, p in (case.get("request") or {}).get("parameters", {}).items()
        }
        self.response: Any = case.get("response")

    @property
    def id(self) -> str:
        return f"{self.operation_id}-{self.status}-{self.number}"

    def http_request(self) -> tuple[str, str, dict[str, str], Any]:
        """(method, path, query, body) of the case: path parameters put in the operation's path,
        array query values joined by commas (as SP-API takes them)."""
        op = operation(self.operation_id)
        path, query, body = op.path, {}, None
        for name, value in self.parameters.items():
            # the sandbox names the body "body" whatever the model calls that parameter
            where = "body" if name == "body" else op.parameters[name]["in"]
            if where == "path":
                path = path.replace("{" + name + "}", quote(str(value), safe=""))
            elif where == "query":
                query[name] = ",".join(map(str, value)) if isinstance(value, list) else str(value)
            elif where == "body":
                body = value
        return op.method, path, query, body


def sandbox_cases(operation_id: str) -> list[SandboxCase]:
    """Every static sandbox case of an operation, in the model's order."""
    cases = []
    for status, resp in operation(operation_id).spec.get("responses", {}).items():
        for n, case in enumerate((resp.get("x-amzn-api-sandbox") or {}).get("static") or []):
            cases.append(SandboxCase(operation_id, int(status), n, case))
    return cases


def response_examples(operation_id: str) -> list[tuple[int, Any]]:
    """(status, body) of every `examples` block of an operation's responses."""
    responses = operation(operation_id).spec.get("responses", {})
    return [(int(status), body) for status, resp in responses.items() for body in (resp.get("examples") or {}).values()]


def notification_examples() -> list[dict]:
    """The whole ORDER_CHANGE notifications the notification schema gives as `examples`."""
    return list(_load(NOTIFICATION_MODEL).get("examples") or [])
