"""HTTP control endpoints of the simulators, under `/_sim/` on each simulator's own port.

A person drives a running stack's Amazon and Commerce with curl (docs/local-control-api.md):

    curl -X POST http://127.0.0.1:4567/_sim/orders -d '{"id": "113-0000000-0000009", "items": [...]}'
    curl -X POST http://127.0.0.1:4568/_sim/ship -d '{"order_id": "113-...", "carrier": "UPS", "tracking_number": "1Z..."}'

Bodies and answers are JSON; an order in a body has the scenario format's shape
(`shared/scenario-format.md`). A refused action answers 409 (or 404 for an unknown order) with
`{"error": "..."}`. Everything else goes to the simulator as before.
"""  # noqa: E501 - a curl command is copied whole

from __future__ import annotations

import json
from typing import Any
from urllib.parse import unquote, urlsplit

from .simulators.amazon import Response, SimulatedAmazon
from .simulators.commerce import SimulatedCommerce

PREFIX = "/_sim/"


class ControlError(Exception):
    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status


def _body(raw: bytes) -> dict:
    try:
        body = json.loads(raw or b"{}")
    except ValueError:
        raise ControlError(400, "the body is not JSON") from None
    if not isinstance(body, dict):
        raise ControlError(400, "the body must be a JSON object")
    return body


def _need(body: dict, *keys: str) -> None:
    missing = [k for k in keys if k not in body]
    if missing:
        raise ControlError(400, f"missing field {missing[0]!r}")


def _validated_order(order: Any) -> dict:
    """The order as a scenario's `amazon.place_order` would accept it (strict, one-line errors)."""
    from .scenario import ScenarioError, parse

    try:
        parse({"steps": [{"do": "amazon.place_order", "order": order}]}, path="/_sim/orders")
    except ScenarioError as e:
        raise ControlError(400, str(e).replace("/_sim/orders: step 1 (amazon.place_order): ", "")) from None
    return order


class ControlledAmazon(SimulatedAmazon):
    """SimulatedAmazon with `/_sim/` control routes (place, pay, ship, cancel, inspect, faults)."""

    def handle(self, method: str, target: str, headers: dict[str, str], body: bytes) -> Response:
        path = urlsplit(target).path
        if not path.startswith(PREFIX):
            return super().handle(method, target, headers, body)
        try:
            status, payload = self._control(
                method, [unquote(s) for s in path[len(PREFIX) :].strip("/").split("/")], body
            )
        except ControlError as e:
            status, payload = e.status, {"error": str(e)}
        except ValueError as e:
            status = 404 if str(e).startswith("unknown order") else 409
            payload = {"error": str(e)}
        return Response(status, payload)

    def _control(self, method: str, seg: list[str], raw: bytes) -> tuple[int, Any]:
        match method, seg:
            case "GET", ["orders"]:
                with self._lock:
                    ids = list(self._orders)
                return 200, {"orders": [self._summary(i) for i in ids]}
            case "POST", ["orders"]:
                order_id = self.place_order(_validated_order(_body(raw)))
                return 201, self._summary(order_id)
            case "GET", ["orders", order_id]:
                return 200, self._summary(order_id)
            case "POST", ["orders", order_id, ("verify_payment" | "ship" | "cancel") as action]:
                if action == "verify_payment":
                    self.verify_payment(order_id)
                elif action == "cancel":
                    self.cancel(order_id)
                else:  # Amazon records no package for an FBA order (its model): a body is not read
                    self.ship(order_id)
                return 200, self._summary(order_id)
            case "POST", ["notifications", "redeliver"]:
                self.redeliver_notifications()
                return 200, {"redelivered": len(self.notifications_sent)}
            case "PUT", ["notifications", "lose"]:
                b = _body(raw)
                _need(b, "enabled")
                self.set_lose_notifications(bool(b["enabled"]))
                return 200, {"lose_notifications": bool(b["enabled"])}
            case "POST", ["faults"]:
                b = _body(raw)
                _need(b, "operation", "status")
                self.fail_next(
                    b["operation"],
                    int(b["status"]),
                    int(b.get("count", 1)),
                    after_effect=bool(b.get("after_effect", False)),
                )
                return 200, {
                    "operation": b["operation"],
                    "status": int(b["status"]),
                    "count": int(b.get("count", 1)),
                    "after_effect": bool(b.get("after_effect", False)),
                }
            case "GET", ["calls"]:
                return 200, self.call_counts
        raise ControlError(404, f"no control route {method} {PREFIX}{'/'.join(seg)}")

    def _summary(self, order_id: str) -> dict:
        with self._lock:
            order = self._order(order_id)
            return {
                "order_id": order.order_id,
                "fulfillment": order.fulfillment,
                "status": order.status,
                "marketplace_id": order.marketplace,
                "shipment_confirmations": self.shipment_confirmations(order_id),
            }

    def known_orders(self) -> dict[str, tuple[str, str]]:
        """Order id -> (fulfillment MFN/AFN, marketplace id) of every order placed so far."""
        with self._lock:
            return {oid: (o.fulfillment, o.marketplace) for oid, o in self._orders.items()}


class ControlledCommerce(SimulatedCommerce):
    """SimulatedCommerce with `/_sim/` control routes (ship, cancel, catalog, customers, inspect, faults)."""

    def _serve(
        self, method: str, path: str, query: list, raw: bytes, *, auth: str, events: list[dict], url: str = ""
    ) -> tuple[int, Any]:
        if not path.startswith(PREFIX):
            return super()._serve(method, path, query, raw, auth=auth, events=events, url=url)
        try:
            return self._control(method, [unquote(s) for s in path[len(PREFIX) :].strip("/").split("/")], raw)
        except ControlError as e:
            return e.status, {"error": str(e)}
        except ValueError as e:
            return (404 if str(e).startswith("No Commerce order") else 409), {"error": str(e)}

    def _control(self, method: str, seg: list[str], raw: bytes) -> tuple[int, Any]:
        match method, seg:
            case "POST", ["ship"]:
                b = _body(raw)
                _need(b, "order_id", "carrier", "tracking_number")
                shipment_id = self.merchant_ship(
                    ext_order_id=b["order_id"],
                    carrier=b["carrier"],
                    tracking_number=b["tracking_number"],
                    items=b.get("items"),
                )
                return 200, {"shipment_id": shipment_id, "order": self.order_by_ext_id(b["order_id"])}
            case "POST", ["cancel"]:
                b = _body(raw)
                _need(b, "order_id", "reason")
                outcome = self.merchant_cancel(ext_order_id=b["order_id"], reason=b["reason"])
                return 200, {"outcome": outcome, "order": self.order_by_ext_id(b["order_id"])}
            case "GET", ["orders"]:
                return 200, {"orders": self.orders()}
            case "GET", ["orders", order_id]:
                order = self.order_by_ext_id(order_id)
                if order is None:
                    raise ControlError(404, f"no Commerce order has ext_order_id {order_id!r}")
                return 200, order
            case "GET", ["products", sku]:
                product = self.product(sku)
                if product is None:
                    raise ControlError(404, f"no product {sku!r}")
                return 200, product
            case "PUT", ["products", sku]:
                b = _body(raw)
                self.set_product(
                    sku, name=b.get("name"), price=b.get("price"), qty=b.get("qty"), enabled=b.get("enabled")
                )
                return 200, self.product(sku)
            case "GET", ["emails"]:
                return 200, {"emails": self.emails()}
            case "POST", ["order-statuses"]:
                b = _body(raw)
                _need(b, "status", "state")
                self.assign_status(str(b["status"]), str(b["state"]))
                return 200, {"status": b["status"], "state": b["state"]}
            case "GET", ["customers"]:
                return 200, {"customers": self.customers()}
            case "POST", ["customers"]:
                b = _body(raw)
                _need(b, "email", "firstname", "lastname")
                customer_id = self.add_customer(b["email"], b["firstname"], b["lastname"])
                return 201, {"id": customer_id, "email": b["email"]}
            case "POST", ["faults"]:
                b = _body(raw)
                _need(b, "method", "path_prefix", "status")
                self.fail_next(
                    b["method"],
                    b["path_prefix"],
                    int(b["status"]),
                    int(b.get("count", 1)),
                    after_effect=bool(b.get("after_effect", False)),
                )
                return 200, b
        raise ControlError(404, f"no control route {method} {PREFIX}{'/'.join(seg)}")
