"""Adobe's admin REST schema (Swagger 2.0), applied the way a Magento store applies it.

The schemas are Adobe's own files, unchanged (`../commerce_rest_schema/`, 2.4.7 to 2.4.9). Each is
read lazily, once per process, with PyYAML's C loader; a `jsonschema` Draft 4 validator (the
dialect of Swagger 2.0, `#/definitions/...` resolved inside the document) is compiled once per
(version, operation) and checks only that operation's parameters, body or response.

Where Magento does not do what the letter of the schema says (facts in the schema README, checked
in Magento's web API input processor and `DataObjectProcessor`):
- An unknown field is refused at every level of a data interface (`"%fieldName" is not
  supported...`), so every object definition is closed (`additionalProperties: false`). The schema
  itself never says so. Magento ignores an unknown top-level body key or query parameter; here they
  are refused as well (stricter: a misspelt parameter would otherwise do nothing, silently).
- Only a missing top-level parameter is refused (`"%fieldName" is required...`); `required`
  inside a data interface is not enforced by the input processor, so it is returned as a warning.
- A null request value is what Magento passes to the setter: it is taken as absent.
- Types are checked as the schema gives them. Magento would also cast a numeric string to a number;
  the simulator refuses it (stricter).
- `searchCriteria` query names: the schema writes every index as `[0]`; any index is accepted.
- Responses are written as Magento's `DataObjectProcessor` writes them: a field whose getter is
  optional is left out when null (a guest order has no `customer_id`); a required one (`required`
  in the schema) is always written, as null when it has no value (`payment.cc_last4: null`, as a
  real store answers). So in a response a required field must be present and may be null; every
  value has the schema's type; no field outside the schema.
- Error bodies: `error-response` says `parameters` is a list of `{fieldName, fieldValue,
  resources}` items, but Magento's REST renderer sends the exception's parameters as they are: an
  object for named placeholders (`{"fieldName": "sku"}`) and a list for positional ones
  (`["sku"]`). Those two shapes are accepted besides the schema's own.
"""

from __future__ import annotations

import copy
import hashlib
import re
import threading
from collections import Counter
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import yaml
from jsonschema import Draft4Validator

from ..disk_cache import cached_json

SCHEMA_DIR = Path(__file__).resolve().parents[1] / "commerce_rest_schema"
VERSIONS = ("2.4.7", "2.4.8", "2.4.9")
DEFAULT_VERSION = "2.4.9"

NOT_SUPPORTED = '"%fieldName" is not supported. Correct the field name and try again.'
REQUIRED = '"%fieldName" is required. Enter and try again.'
INVALID_TYPE = 'The "%value" value\'s type is invalid. The "%type" type was expected. Verify and try again.'
INVALID_VALUE = 'Invalid value of "%value" provided for the %fieldName field.'

_INDEX = re.compile(r"\[\d+\]")
# PHP's names for the types, as Magento's type processor words them
_PHP_TYPES = {
    "integer": "int",
    "number": "float",
    "string": "string",
    "boolean": "bool",
    "array": "array",
    "object": "object",
}
# A "mixed" list in Magento's service contracts: free by design
_OPEN_DEFINITIONS = {"unstructured-array"}


class RequestRefused(Exception):
    """What Magento answers (HTTP 400, or 404 for no route) to a request outside the schema."""

    def __init__(self, message: str, parameters: Any, status: int = 400):
        super().__init__(message)
        self.status = status
        self.message = message
        self.parameters = parameters


@dataclass
class Operation:
    version: str
    method: str
    path: str  # as the schema writes it, e.g. /V1/orders/{id}
    operation_id: str
    spec: dict
    query: dict[str, dict] = field(default_factory=dict)
    path_params: dict[str, dict] = field(default_factory=dict)
    body: dict | None = None  # the body parameter's schema


def _close_objects(node: Any) -> Any:
    """Every object schema refuses fields it does not name (Magento's input processor does)."""
    if isinstance(node, dict):
        out = {k: _close_objects(v) for k, v in node.items()}
        if out.get("type") == "object" and "additionalProperties" not in out:
            out["additionalProperties"] = False
        return out
    if isinstance(node, list):
        return [_close_objects(v) for v in node]
    return node


def _nullable_required(node: Any) -> Any:
    """A response schema where a required field may be null (written from a getter that returned null)."""
    if isinstance(node, dict):
        out = {k: _nullable_required(v) for k, v in node.items()}
        props = out.get("properties")
        if isinstance(props, dict) and out.get("required"):
            props = dict(props)
            for name in out["required"]:
                p = props.get(name)
                if p is None:
                    continue
                if isinstance(p.get("type"), str) and "$ref" not in p:
                    props[name] = {**p, "type": [p["type"], "null"]}
                else:
                    props[name] = {"anyOf": [p, {"type": "null"}]}
            out["properties"] = props
        return out
    if isinstance(node, list):
        return [_nullable_required(v) for v in node]
    return node


def _error_response(defs: dict) -> dict:
    """`error-response` with `parameters` as Magento sends them (see the module docstring)."""
    scalar = {"type": ["string", "number", "boolean"]}
    schema = copy.deepcopy(defs["error-response"])
    schema["properties"]["parameters"] = {
        "anyOf": [
            {"$ref": "#/definitions/error-parameters"},
            {"type": "object", "additionalProperties": scalar},
            {"type": "array", "items": scalar},
        ]
    }
    return schema


def _document(path: Path) -> Any:
    """Adobe's YAML schema as data; kept as JSON on disk (disk_cache.py), which reads ten times faster."""
    raw = path.read_bytes()

    def parse() -> Any:
        return yaml.load(raw, Loader=yaml.CSafeLoader)

    return cached_json(
        f"commerce-schema-{path.stem}", [hashlib.sha256(raw).hexdigest(), yaml.__version__], parse, in_memory=False
    )


class CommerceSchema:
    """One version of Adobe's admin REST schema: operations, request checks, response checks."""

    def __init__(self, version: str):
        if version not in VERSIONS:
            raise ValueError(f"No Adobe Commerce REST schema {version!r}; known: {', '.join(VERSIONS)}")
        self.version = version
        doc = _document(SCHEMA_DIR / f"admin-schema-{version}.yaml")
        self.base_path: str = doc.get("basePath", "/rest/default")
        self.definitions = {
            name: (d if name in _OPEN_DEFINITIONS else _close_objects(d)) for name, d in doc["definitions"].items()
        }
        self.response_definitions = {name: _nullable_required(d) for name, d in self.definitions.items()}
        self._routes: dict[tuple[str, int], list[tuple[tuple[str | None, ...], int, Operation]]] = {}
        for p, methods in doc["paths"].items():
            for method, spec in methods.items():
                if not isinstance(spec, dict) or "operationId" not in spec:
                    continue
                op = Operation(version, method.upper(), p, spec["operationId"], spec)
                for prm in spec.get("parameters", []):
                    if prm.get("in") == "query":
                        op.query[prm["name"]] = prm
                    elif prm.get("in") == "path":
                        op.path_params[prm["name"]] = prm
                    elif prm.get("in") == "body":
                        op.body = _close_objects(prm["schema"])
                segments = tuple(None if s.startswith("{") else s for s in p.strip("/").split("/"))
                literal = sum(s is not None for s in segments)
                self._routes.setdefault((op.method, len(segments)), []).append((segments, literal, op))
        for candidates in self._routes.values():
            candidates.sort(key=lambda c: -c[1])  # /V1/customers/search before /V1/customers/{id}
        self._validators: dict[tuple[str, str], Draft4Validator] = {}
        self._lock = threading.Lock()

    # ---------------------------------------------------------------- compiled validators
    def _validator(self, key: tuple[str, str], schema: Any) -> Draft4Validator:
        v = self._validators.get(key)
        if v is None:
            with self._lock:
                v = self._validators.get(key)
                if v is None:
                    schema = schema() if callable(schema) else schema
                    root = dict(schema)
                    root["definitions"] = self.definitions if key[0] == "request" else self.response_definitions
                    v = self._validators[key] = Draft4Validator(root)
        return v

    # ---------------------------------------------------------------- routes
    def operation(self, method: str, api_path: str) -> Operation | None:
        """The operation for `GET /V1/orders/5`-style method and path (after the store code)."""
        parts = api_path.strip("/").split("/")
        for segments, _literal, op in self._routes.get((method.upper(), len(parts)), ()):
            if all(s is None or s == p for s, p in zip(segments, parts, strict=True)):
                return op
        return None

    def path_values(self, op: Operation, api_path: str) -> dict[str, str]:
        parts = api_path.strip("/").split("/")
        names = op.path.strip("/").split("/")
        return {n[1:-1]: p for n, p in zip(names, parts, strict=True) if n.startswith("{")}

    # ---------------------------------------------------------------- requests
    def check_request(self, op: Operation, api_path: str, query: list[tuple[str, str]], body: Any) -> list[str]:
        """Refuse (RequestRefused) what Magento refuses; return the warnings (nested `required`)."""
        for name, value in self.path_values(op, api_path).items():
            _check_scalar(op.path_params.get(name) or {}, name, value)
        seen = set()
        for name, value in query:
            param = op.query.get(_INDEX.sub("[0]", name))
            if param is None:
                raise RequestRefused(NOT_SUPPORTED, {"fieldName": name})
            _check_scalar(param, name, value)
            seen.add(param["name"])
        for name, param in op.query.items():
            if param.get("required") and name not in seen:
                raise RequestRefused(REQUIRED, {"fieldName": name})
        if op.body is None:
            return []
        body = _without_nulls(body if body is not None else {})
        warnings: list[str] = []
        refusal: RequestRefused | None = None
        for err in self._validator(("request", op.operation_id), op.body).iter_errors(body):
            where = list(err.absolute_path)
            if err.validator == "required":
                missing = [r for r in err.validator_value if r not in err.instance]
                if where:  # inside a data interface: Magento does not enforce it
                    for m in missing:
                        text = f"{op.method} {op.path}: {_dotted([*where, m])} is marked required and missing"
                        if text not in warnings:
                            warnings.append(text)
                    continue
                refusal = refusal or RequestRefused(REQUIRED, {"fieldName": missing[0]})
            elif err.validator == "additionalProperties":
                allowed = set(err.schema.get("properties") or {})
                extra = [k for k in err.instance if k not in allowed]
                refusal = refusal or RequestRefused(NOT_SUPPORTED, {"fieldName": extra[0]})
            elif err.validator == "type":
                refusal = refusal or RequestRefused(
                    INVALID_TYPE, {"value": _text(err.instance), "type": _php_type(err.validator_value)}
                )
            else:
                refusal = refusal or RequestRefused(
                    INVALID_VALUE, {"value": _text(err.instance), "fieldName": _dotted(where)}
                )
        if refusal is not None:
            raise refusal
        return warnings

    # ---------------------------------------------------------------- responses
    def required(self, definition: str) -> list[str]:
        """The fields `definition` marks required (Magento writes them even when null)."""
        return list(self.definitions[definition].get("required", []))

    def as_written(self, op: Operation | None, status: int, payload: Any) -> Any:
        """`payload` as Magento writes it: null left out unless the schema marks the field required."""
        schema = None
        if op is not None and status < 400:
            schema = (op.spec.get("responses", {}).get(str(status)) or {}).get("schema")
        return self._written(payload, schema)

    def _written(self, value: Any, schema: dict | None) -> Any:
        while schema is not None and "$ref" in schema:
            schema = self.definitions.get(schema["$ref"].rsplit("/", 1)[-1])
        if isinstance(value, dict):
            props = (schema or {}).get("properties") or {}
            required = (schema or {}).get("required") or ()
            return {k: self._written(v, props.get(k)) for k, v in value.items() if v is not None or k in required}
        if isinstance(value, list):
            return [self._written(v, (schema or {}).get("items")) for v in value]
        return value

    def response_violations(self, op: Operation | None, status: int, payload: Any) -> list[str]:
        """What in a response (nulls already left out) is not what the schema says it is."""
        where = f"{op.method} {op.path} {status}" if op else f"{status} (no route)"
        if status >= 400:
            validator = self._validator(("error", ""), lambda: _error_response(self.definitions))
        elif op is None:
            return [f"{where}: a success answer to a route the schema does not have"]
        else:
            declared = op.spec.get("responses", {}).get(str(status))
            if declared is None:
                return [f"{where}: status {status} is not declared by the schema"]
            schema = declared.get("schema")
            if schema is None:
                return [] if payload in (None, "", [], {}) else [f"{where}: the schema declares no body"]
            validator = self._validator(("response", f"{op.operation_id} {status}"), schema)
        return [
            f"{where}: {_dotted(list(e.absolute_path)) or '<body>'}: {e.message}"
            for e in _leaves(validator.iter_errors(payload))
        ]


def _leaves(errors: Any) -> list:
    """The errors to show: inside `anyOf [X, null]`, the reasons X did not match."""
    out = []
    for e in errors:
        inner = [c for c in e.context or () if c.schema_path and c.schema_path[0] == 0]
        out.extend(_leaves(inner) if e.validator == "anyOf" and inner else [e])
    return out


def _check_scalar(param: dict, name: str, value: str) -> None:
    ptype = param.get("type", "string")
    if ptype == "integer" and not re.fullmatch(r"-?\d+", value):
        raise RequestRefused(INVALID_TYPE, {"value": value, "type": "int"})
    if ptype == "number":
        try:
            float(value)
        except ValueError:
            raise RequestRefused(INVALID_TYPE, {"value": value, "type": "float"}) from None
    if ptype == "boolean" and value.lower() not in ("true", "false", "1", "0"):
        raise RequestRefused(INVALID_TYPE, {"value": value, "type": "bool"})


def _without_nulls(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _without_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_without_nulls(v) for v in value]
    return value


def _dotted(path: list) -> str:
    return ".".join(str(p) for p in path)


def _text(value: Any) -> str:
    return value if isinstance(value, str) else repr(value) if isinstance(value, (dict, list)) else str(value)


def _php_type(t: Any) -> str:
    if isinstance(t, list):
        return "|".join(_PHP_TYPES.get(x, x) for x in t)
    return _PHP_TYPES.get(t, t)


@cache
def schema(version: str = DEFAULT_VERSION) -> CommerceSchema:
    """The schema of one Commerce version, read once per process."""
    return CommerceSchema(version)


# ------------------------------------------------------------------ figures and violations
_lock = threading.Lock()
_counts: dict[str, Counter] = {}
_violations: list[str] = []


def count(version: str, what: str, n: int = 1) -> None:
    with _lock:
        _counts.setdefault(version, Counter())[what] += n


def counts() -> dict[str, dict[str, int]]:
    """Requests and responses validated in this process, per schema version."""
    with _lock:
        return {v: dict(c) for v, c in sorted(_counts.items())}


def record_violation(text: str) -> None:
    with _lock:
        _violations.append(text)


def take_violations() -> list[str]:
    """The response violations recorded since the last call (and forget them)."""
    with _lock:
        out = list(_violations)
        _violations.clear()
        return out


# ------------------------------------------------------------------ recorded traffic
@dataclass
class Exchange:
    """One request to a simulated Commerce and its answer, as they went over the wire."""

    version: str
    method: str
    api_path: str | None  # /V1/..., None when the path is not under /rest
    query: list[tuple[str, str]]
    body: Any
    status: int
    payload: Any


_recorders: list[list[Exchange]] = []


class recorded:
    """`with recorded() as traffic:` every simulated Commerce's exchanges land in `traffic`."""

    def __enter__(self) -> list[Exchange]:
        self.traffic: list[Exchange] = []
        with _lock:
            _recorders.append(self.traffic)
        return self.traffic

    def __exit__(self, *exc: Any) -> None:
        with _lock:
            _recorders.remove(self.traffic)


def record(exchange: Exchange) -> None:
    with _lock:
        for traffic in _recorders:
            traffic.append(exchange)


def recording() -> bool:
    return bool(_recorders)


@dataclass
class Figures:
    version: str
    requests: int = 0
    responses: int = 0
    refused: list[str] = field(default_factory=list)  # requests the schema refuses
    violations: list[str] = field(default_factory=list)  # answers outside the schema
    request_seconds: float = 0.0  # time spent checking requests
    response_seconds: float = 0.0  # time spent writing and checking answers


def revalidate(traffic: list[Exchange], version: str) -> Figures:
    """Check recorded traffic against one schema version: every request, and every answer."""
    from time import perf_counter

    s = schema(version)
    figures = Figures(version)
    for ex in traffic:
        t0 = perf_counter()
        op = s.operation(ex.method, ex.api_path) if ex.api_path else None
        if op is None:
            figures.refused.append(f"{ex.method} {ex.api_path}: no such route in {version}")
        else:
            try:
                s.check_request(op, ex.api_path, ex.query, ex.body)
            except RequestRefused as e:
                figures.refused.append(f"{ex.method} {ex.api_path}: {e.message} {e.parameters}")
        t1 = perf_counter()
        figures.violations.extend(s.response_violations(op, ex.status, s.as_written(op, ex.status, ex.payload)))
        t2 = perf_counter()
        figures.requests += 1
        figures.responses += 1
        figures.request_seconds += t1 - t0
        figures.response_seconds += t2 - t1
    return figures
