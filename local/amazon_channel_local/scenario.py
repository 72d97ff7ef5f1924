"""Scenario files (format v1, `shared/scenario-format.md`): strict parsing and validation.

Every error names the file and the step, in one line.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

ORDER_ID = re.compile(r"^\d{3}-\d{7}-\d{7}$")
TOP_KEYS = {"name", "settings", "catalog", "customers", "steps"}
SETTINGS = {
    "import_orders": (bool,),
    "customer_creation": ("guest", "create"),
    "order_number_source": ("commerce", "amazon"),
    "import_fba_orders": (bool,),
}
# verb -> (required keys, optional keys)
VERBS: dict[str, tuple[set[str], set[str]]] = {
    "amazon.place_order": ({"order"}, set()),
    "amazon.verify_payment": ({"order_id"}, set()),
    "amazon.ship": ({"order_id"}, set()),
    "amazon.cancel": ({"order_id"}, set()),
    "amazon.redeliver_notifications": (set(), set()),
    "amazon.lose_notifications": ({"enabled"}, set()),
    "commerce.ship": ({"order_id", "carrier", "tracking_number"}, {"items"}),
    "commerce.cancel": ({"order_id", "reason"}, set()),
    "catalog.set": ({"sku"}, {"qty", "enabled", "price", "name"}),
    "poll": (set(), set()),
    "settle": (set(), set()),
    "snapshot": ({"label"}, set()),
}
ORDER_KEYS = ({"id", "items"}, {"fulfillment", "buyer", "ship_to", "shipping", "marketplace", "purchase_date"})
ITEM_KEYS = ({"sku", "qty", "price"}, {"tax"})
BUYER_KEYS = (set(), {"name", "email"})
SHIP_TO_KEYS = (set(), {"name", "line1", "line2", "city", "region", "postcode", "country", "phone"})
SHIPPING_KEYS = (set(), {"price", "tax"})
CATALOG_KEYS = ({"sku"}, {"name", "price", "qty", "enabled"})
CUSTOMER_KEYS = ({"email", "firstname", "lastname"}, set())
SHIP_ITEM_KEYS = ({"sku", "qty"}, set())


class ScenarioError(ValueError):
    """The scenario is invalid. The message is one line naming the file and the step."""


@dataclass
class Step:
    index: int  # 1-based, as a person counts
    do: str
    args: dict[str, Any]

    def where(self) -> str:
        return f"step {self.index} ({self.do})"


@dataclass
class Scenario:
    path: str
    name: str
    settings: dict[str, Any]
    catalog: list[dict[str, Any]]
    customers: list[dict[str, Any]]
    steps: list[Step] = field(default_factory=list)

    @property
    def orders(self) -> list[dict[str, Any]]:
        """The orders the scenario places, in the order placed."""
        return [s.args["order"] for s in self.steps if s.do == "amazon.place_order"]


def load(path: str | Path) -> Scenario:
    """Read and validate a scenario file."""
    path = str(path)
    try:
        with open(path, encoding="utf-8") as f:
            raw = json.load(f)
    except FileNotFoundError:
        raise ScenarioError(f"{path}: no such file") from None
    except json.JSONDecodeError as e:
        raise ScenarioError(f"{path}: bad JSON at line {e.lineno} column {e.colno}: {e.msg}") from None
    return parse(raw, path)


def parse(raw: Any, path: str = "<scenario>", known_orders: Iterable[str] = ()) -> Scenario:
    """Validate a scenario. `known_orders`: ids placed before it (on a running `local up` stack)."""

    def fail(where: str, message: str):
        raise ScenarioError(f"{path}: {where}: {message}")

    if not isinstance(raw, dict):
        fail("top level", "a scenario is a JSON object")
    _keys(raw, (set(), TOP_KEYS), lambda m: fail("top level", m))
    name = raw.get("name", "")
    if not isinstance(name, str):
        fail("name", "must be a string")

    settings = raw.get("settings", {})
    if not isinstance(settings, dict):
        fail("settings", "must be an object")
    for key, value in settings.items():
        if key not in SETTINGS:
            fail("settings", f"unknown key {key!r}")
        allowed = SETTINGS[key]
        if allowed == (bool,):
            if not isinstance(value, bool):
                fail("settings", f"{key} must be true or false")
        elif value not in allowed:
            fail("settings", f"{key} must be one of {', '.join(map(repr, allowed))}")

    catalog = _list(raw.get("catalog", []), "catalog", fail)
    for n, product in enumerate(catalog, 1):
        where = f"catalog entry {n}"
        _obj(product, CATALOG_KEYS, where, fail)
        _sku(product["sku"], where, fail)
        _optional_money(product, "price", where, fail)
        _optional_count(product, "qty", where, fail)
        _optional_bool(product, "enabled", where, fail)
    customers = _list(raw.get("customers", []), "customers", fail)
    for n, customer in enumerate(customers, 1):
        where = f"customer {n}"
        _obj(customer, CUSTOMER_KEYS, where, fail)
        for key in CUSTOMER_KEYS[0]:
            if not isinstance(customer[key], str) or not customer[key].strip():
                fail(where, f"{key} must be a non-empty string")

    raw_steps = raw.get("steps")
    if raw_steps is None:
        fail("top level", "missing field 'steps'")
    steps: list[Step] = []
    placed: set[str] = set(known_orders)
    for n, raw_step in enumerate(_list(raw_steps, "steps", fail), 1):
        if not isinstance(raw_step, dict):
            fail(f"step {n}", "a step is a JSON object")
        verb = raw_step.get("do")
        if verb is None:
            fail(f"step {n}", "missing field 'do'")
        if verb not in VERBS:
            fail(f"step {n}", f"unknown verb {verb!r}")
        step = Step(n, verb, {k: v for k, v in raw_step.items() if k != "do"})
        where = step.where()
        _keys(step.args, VERBS[verb], lambda m, w=where: fail(w, m))
        _check_step(step, placed, lambda m, w=where: fail(w, m))
        steps.append(step)
    return Scenario(path=path, name=name, settings=settings, catalog=catalog, customers=customers, steps=steps)


def _check_step(step: Step, placed: set[str], fail) -> None:
    a = step.args
    if step.do == "amazon.place_order":
        order = a["order"]
        if not isinstance(order, dict):
            fail("order must be an object")
        _keys(order, ORDER_KEYS, lambda m: fail(f"order: {m}"))
        oid = order["id"]
        if not isinstance(oid, str) or not ORDER_ID.match(oid):
            fail(f"order id {oid!r} is not an Amazon order id (3-7-7 digits)")
        if oid in placed:
            fail(f"order {oid} was already placed")
        if order.get("fulfillment", "MFN") not in ("MFN", "AFN"):
            fail("order: fulfillment must be 'MFN' or 'AFN'")
        for key, spec in (("buyer", BUYER_KEYS), ("ship_to", SHIP_TO_KEYS), ("shipping", SHIPPING_KEYS)):
            if key in order and order[key] is not None:
                if not isinstance(order[key], dict):
                    fail(f"order: {key} must be an object")
                _keys(order[key], spec, lambda m, k=key: fail(f"order {k}: {m}"))
        for key in ("price", "tax"):
            if key in (order.get("shipping") or {}):
                _money(order["shipping"][key], f"order shipping {key}", fail)
        for key in ("marketplace", "purchase_date"):
            if key in order and not isinstance(order[key], str):
                fail(f"order: {key} must be a string")
        items = order["items"]
        if not isinstance(items, list) or not items:
            fail("order: items must be a non-empty list")
        for m, item in enumerate(items, 1):
            if not isinstance(item, dict):
                fail(f"order item {m} must be an object")
            _keys(item, ITEM_KEYS, lambda msg, m=m: fail(f"order item {m}: {msg}"))
            _sku(item["sku"], f"order item {m}", lambda w, msg: fail(f"{w}: {msg}"))
            if not isinstance(item["qty"], int) or isinstance(item["qty"], bool) or item["qty"] < 1:
                fail(f"order item {m}: qty must be a positive integer")
            _money(item["price"], f"order item {m} price", fail)
            if "tax" in item:
                _money(item["tax"], f"order item {m} tax", fail)
        placed.add(oid)
    if "order_id" in a and a["order_id"] not in placed:
        fail(f"unknown order id {a['order_id']!r} (no earlier amazon.place_order placed it)")
    if step.do == "amazon.lose_notifications" and not isinstance(a["enabled"], bool):
        fail("enabled must be true or false")
    if step.do == "commerce.ship":
        for key in ("carrier", "tracking_number"):
            if not isinstance(a[key], str) or not a[key].strip():
                fail(f"{key} must be a non-empty string")
        if "items" in a:
            if not isinstance(a["items"], list) or not a["items"]:
                fail("items must be a non-empty list")
            for m, item in enumerate(a["items"], 1):
                if not isinstance(item, dict):
                    fail(f"items {m} must be an object")
                _keys(item, SHIP_ITEM_KEYS, lambda msg, m=m: fail(f"items {m}: {msg}"))
                if not isinstance(item["qty"], int) or isinstance(item["qty"], bool) or item["qty"] < 1:
                    fail(f"items {m}: qty must be a positive integer")
    if step.do == "commerce.cancel" and (not isinstance(a["reason"], str) or not a["reason"].strip()):
        fail("reason must be a non-empty string")
    if step.do == "catalog.set":
        _sku(a["sku"], "catalog.set", lambda w, msg: fail(msg))
        _optional_money(a, "price", "catalog.set", lambda w, msg: fail(msg))
        _optional_count(a, "qty", "catalog.set", lambda w, msg: fail(msg))
        _optional_bool(a, "enabled", "catalog.set", lambda w, msg: fail(msg))
        if "name" in a and not isinstance(a["name"], str):
            fail("name must be a string")
    if step.do == "snapshot" and (not isinstance(a["label"], str) or not a["label"]):
        fail("label must be a non-empty string")


def _keys(obj: dict, spec: tuple[set[str], set[str]], fail) -> None:
    required, optional = spec
    for key in obj:
        if key not in required | optional:
            fail(f"unknown key {key!r}")
    for key in sorted(required):
        if key not in obj:
            fail(f"missing field {key!r}")


def _list(value, where, fail) -> list:
    if not isinstance(value, list):
        fail(where, "must be a list")
    return value


def _obj(value, spec, where, fail) -> None:
    if not isinstance(value, dict):
        fail(where, "must be an object")
    _keys(value, spec, lambda m: fail(where, m))


def _sku(value, where, fail) -> None:
    if not isinstance(value, str) or not value.strip():
        fail(where, "sku must be a non-empty string")


def _money(value, where, fail) -> None:
    try:
        ok = isinstance(value, str) and Decimal(value) >= 0 and Decimal(value).is_finite()
    except InvalidOperation:
        ok = False
    if not ok:
        fail(f'{where} must be a decimal string such as "12.50", not {value!r}')


def _optional_money(obj, key, where, fail) -> None:
    if key in obj:
        _money(obj[key], f"{where} {key}", lambda m: fail(where, m))


def _optional_count(obj, key, where, fail) -> None:
    if key in obj and (not isinstance(obj[key], int) or isinstance(obj[key], bool) or obj[key] < 0):
        fail(where, f"{key} must be a whole number >= 0")


def _optional_bool(obj, key, where, fail) -> None:
    if key in obj and not isinstance(obj[key], bool):
        fail(where, f"{key} must be true or false")
