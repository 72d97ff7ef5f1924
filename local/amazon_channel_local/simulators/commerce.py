"""A simulated Adobe Commerce (Magento 2) store: the REST endpoints the channel uses, on 127.0.0.1.

Shapes follow Magento 2.4's REST API (snake_case fields, decimals as JSON numbers, errors as
`{"message": "...", "parameters": ...}` with `%1` / `%name` placeholders). Both `/rest/V1/...`
and `/rest/<store_code>/V1/...` are accepted.

Calls are authenticated as Magento authenticates an integration (`OauthUserContext` and
Magento Framework's `Oauth::validateAccessTokenRequest`): an OAuth 1.0a `Authorization`
header signed with HMAC-SHA256 by the integration's consumer key and secret and its access token
and token secret (`credentials`), with a fresh nonce; the query string is signed, a JSON body is
not. A Bearer access token alone is accepted only with `allow_bearer=True` (the store setting
"Allow OAuth Access Tokens to be used as standalone Bearer tokens", off by default since 2.4.4).

Endpoints: customers search/create, orders search/get/save, invoiceOrder, shipOrder, shipment
get/search, order comments, order cancel, refundOrder (offline credit memo) and credit memo get,
products and stock items by SKU. Every shipment save (through `POST /V1/order/{id}/ship` or
`merchant_ship`) emits the Adobe I/O event
`com.adobe.commerce.observer.sales_order_shipment_save_after` as an EventBridge PutEvents entry
shaped as Adobe I/O Events delivers it (source `aws.partner/developer.adobe.com/<id>`,
detail-type `<provider label>:<event code>`); a cancel emits `...observer.order_cancel_after` and
a credit memo `...observer.sales_order_creditmemo_save_after` (through the API or `merchant_cancel`).

Every request is held to Adobe's admin REST schema (`commerce_schema.py`; 2.4.9 unless
`schema_version` or SIM_COMMERCE_SCHEMA_VERSION says 2.4.7 or 2.4.8): a route outside it is 404,
an unknown field at any level, a wrong type or a missing top-level parameter is Magento's 400.
Answers are written as Magento writes them (null optional fields left out) and, with
`validate_responses` (SIM_COMMERCE_VALIDATE_RESPONSES=1, on for the test suite), checked against
the operation's schema: a violation is recorded and answered 500.

Magento's rules for withdrawing an order are kept: `POST /V1/orders/{id}/cancel` answers `false`
for an order invoiced in full (`Order::canCancel`), and such an order is withdrawn with a credit
memo instead, after which Magento closes it (or completes it, when part of it shipped).

`POST /V1/orders` does only what `salesOrderRepositoryV1` save does: it stores the order as given.
No catalog check, no stock or reservation change, no `product_id` fill and no email (the order
email is sent at checkout by the quote's submit observer, never by the repository).

Inventory follows Magento's MSI on one source (`default`) and one stock (id 1): a product's
physical quantity is its source item's `quantity`; its salable quantity is that quantity plus
its reservations minus its out-of-stock threshold (`min_qty`), as MSI's GetProductSalableQty
computes it. What MSI does after an order is saved is modelled where Magento does it:
- a new shipment deducts the shipped quantity from the source and places a compensating
  reservation of +qty (InventoryShipping `SourceDeductionProcessor`, observer of
  `sales_order_shipment_save_after`); the deduction is refused when the source holds less
  (`SourceDeductionService`: "Not all of your products are available in the requested quantity.");
- a cancel places a +qty reservation for what it cancels (InventorySales `CancelOrderItemObserver`,
  `sales_order_item_cancel`);
- a credit memo returning items to stock puts the shipped part back on the source and places a
  +qty reservation for the unshipped part (InventorySales `ProcessRefundItems`).
Orders placed at checkout start with a -qty reservation (`PlaceReservationsForSalesEvent` in
`OrderManagement::place`), which these compensate; an order saved through the repository has none,
so its compensations are left over until the merchant runs Magento's reservation tool
(`create_compensations`). A product shows in stock (`is_in_stock`, the stock index) while its
source quantity is above the threshold, reservations aside (legacy `StockStateProvider::verifyStock`).

Emails: every email Commerce would send is recorded (`emails()`), with its kind and recipient:
the welcome email of `POST /V1/customers` (AccountManagement::createAccount ->
EmailNotification::newAccount), and the invoice, shipment, credit memo and order comment emails
when a request asks to notify the customer. Pre-existing customers (`add_customer`) had theirs
before the scenario began.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import re
import socket
import threading
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, quote, unquote, urlsplit

from . import commerce_schema

# Adobe I/O event codes of the Commerce observer events (`com.adobe.commerce.observer.<name>`).
EVENT_TYPE = "com.adobe.commerce.observer.sales_order_shipment_save_after"
ORDER_CANCEL_EVENT = "com.adobe.commerce.observer.order_cancel_after"
CREDITMEMO_EVENT = "com.adobe.commerce.observer.sales_order_creditmemo_save_after"
# As Adobe I/O Events delivers to EventBridge ("Adobe I/O Events and Amazon EventBridge
# Integration"): source = the partner event source `aws.partner/developer.adobe.com/<id>`,
# detail-type = `<event provider label>:<event code>`. The label is the merchant's own; this one is
# the example label of Adobe's `events:create-event-provider` docs.
EVENT_SOURCE = "aws.partner/developer.adobe.com/5c3b1e0a-7d42-4f8e-9a61-2b8c4d6e0f13"
PROVIDER_LABEL = "My Adobe Commerce Events"
PROVIDER_ID = "6f1c2a4e-9b1d-4c57-8a0e-3d2f5b7c9e11"


def detail_type(event_code: str) -> str:
    """The EventBridge detail-type Adobe I/O Events gives an event of this provider."""
    return f"{PROVIDER_LABEL}:{event_code}"


NOT_FOUND = "The entity that was requested doesn't exist. Verify the entity and try again."
PRODUCT_NOT_FOUND = "The product that was requested doesn't exist. Verify the product and try again."
NO_ROUTE = "Request does not match any route."
UNAUTHORIZED = "The consumer isn't authorized to access %resources."
DUPLICATE_CUSTOMER = "A customer with the same email address already exists in an associated website."
REQUIRED = '"%fieldName" is required. Enter and try again.'
CANNOT_INVOICE = "The order does not allow an invoice to be created."
SHIP_ERRORS = "Shipment Document Validation Error(s):\n%1"
CREDITMEMO_ERRORS = "Creditmemo Document Validation Error(s):\n%1"
STATUS_NOT_ASSIGNED = 'The status "%1" is not part of the order status history.'
SOURCE_SHORT = "Not all of your products are available in the requested quantity."
DEFAULT_SOURCE = "default"
DEFAULT_STOCK = 1

# Magento's default status-to-state assignments (table sales_order_status_state, filled by
# Magento_Sales' InstallOrderStatusesAndInitialSalesConfig data patch; `fraud` is assigned to both
# processing and payment_review there; Magento_Paypal adds its two reversal statuses to
# processing). A merchant assigns more in Stores > Order Status (`assign_status`).
DEFAULT_STATUS_STATES: dict[str, set[str]] = {
    "new": {"pending"},
    "pending_payment": {"pending_payment"},
    "processing": {"processing", "fraud", "paypal_reversed", "paypal_canceled_reversal"},
    "complete": {"complete"},
    "closed": {"closed"},
    "canceled": {"canceled"},
    "holded": {"holded"},
    "payment_review": {"payment_review", "fraud"},
}

# The sim's one integration (System > Extensions > Integrations). Magento makes each credential 32
# characters of [0-9a-z] (Oauth Helper LENGTH_* and generateRandomString); these are test values.
INTEGRATION = {
    "consumer_key": "simconsumerkey0000000000000000k1",
    "consumer_secret": "simconsumersecret00000000000000s",
    "access_token": "simaccesstoken0000000000000000t1",
    "access_token_secret": "simaccesstokensecret00000000000s",
}
CONSUMER_ID = 1  # the integration's OAuth consumer id
# Magento's messages, from Framework\Oauth\Oauth, Integration\Model\Oauth\Token\Provider and
# Nonce\Generator; Magento\Framework\Oauth\Exception is an AuthenticationException (401), an
# OauthInputException an InputException (400).
BAD_SIGNATURE = "The signature is invalid. Verify and try again."
NONCE_USED = "The nonce is already being used by the consumer with ID %1"
NONCE_ERROR = "An error occurred validating the nonce"
UNKNOWN_CONSUMER = "A consumer having the specified key does not exist"
CONSUMER_KEY_LENGTH = "Consumer key is not the correct length"
# Magento's error messages about OAuth tokens (not secrets)
UNKNOWN_TOKEN = "Specified token does not exist"  # noqa: S105
TOKEN_NOT_CONSUMERS = "Token is not associated with the specified consumer"  # noqa: S105
TOKEN_LENGTH = "The token length is invalid. Check the length and try again."  # noqa: S105
UNSUPPORTED_METHOD = "Signature method %1 is not supported"
UNSUPPORTED_VERSION = 'The "%1" Oauth version isn\'t supported.'
INPUT_ERRORS = "One or more input exceptions have occurred."
# Latest 2.4 releases accept HMAC-SHA256 only (earlier ones HMAC-SHA1 too): the stricter set.
SIGNATURE_METHODS = ("HMAC-SHA256",)
TIME_DEVIATION = 600  # Nonce\Generator::TIME_DEVIATION: how far in the future a timestamp may be

_PATH = re.compile(r"^/rest(?:/(?!V1/)[A-Za-z0-9_]+)?(/V1/.*)$")
_FILTER = re.compile(r"^searchCriteria\[filter_?[gG]roups\]\[(\d+)\]\[filters\]\[(\d+)\]\[(\w+)\]$")
_CARRIER_CODES = {"ups": "ups", "usps": "usps", "fedex": "fedex", "dhl": "dhl"}


class _HttpError(Exception):
    def __init__(self, status: int, message: str, parameters: Any = None, errors: list | None = None):
        super().__init__(message)
        self.status = status
        self.message = message
        self.parameters = [] if parameters is None else parameters
        self.errors = errors


def signature_valid(method: str, url: str, authorization: str, consumer_secret: str, token_secret: str) -> bool:
    """Whether the OAuth 1.0a HMAC signature in `authorization` signs this request, as Magento checks it.

    Written out rather than verified with oauthlib, the library the channel's client signs with:
    checking the client against its own library would hide any difference from Magento. Magento
    (`Framework\\Oauth\\Helper\\Request::prepareRequest`, then Laminas OAuth's HMAC signature):
    - takes the header's `oauth_*` parameters and the query's `name=value` pairs, each decoded with
      PHP's `rawurldecode` (so a `+` stays a `+`), into one PHP array (a repeated name keeps its
      last value);
    - sorts the names with `strnatcmp` (natural order), encodes names and values with
      `rawurlencode`, and signs `METHOD&url&params`, the URL without its query string, with the
      key `consumer secret&token secret`.
    """
    params: dict[str, str] = {}
    for part in authorization.split(",") if authorization.lower().lstrip().startswith("oauth ") else []:
        name, sep, value = part.strip().removeprefix("OAuth ").removeprefix("oauth ").partition("=")
        if sep and name.strip().startswith("oauth_"):
            params[_rawurldecode(name.strip())] = _rawurldecode(value.strip().strip('"'))
    split = urlsplit(url)
    for pair in split.query.split("&") if split.query else []:
        name, sep, value = pair.partition("=")
        if sep and "=" not in value and not name.startswith("oauth_"):
            params[_rawurldecode(name)] = _rawurldecode(value)
    given = params.pop("oauth_signature", "")
    digest = {"HMAC-SHA256": hashlib.sha256, "HMAC-SHA1": hashlib.sha1}.get(params.get("oauth_signature_method", ""))
    if digest is None or not given:
        return False
    pairs = "&".join(
        f"{_rawurlencode(k)}={_rawurlencode(v)}" for k, v in sorted(params.items(), key=lambda kv: _natural(kv[0]))
    )
    base_url = f"{split.scheme.lower()}://{split.netloc.lower()}{split.path}"
    base = "&".join((method.upper(), _rawurlencode(base_url), _rawurlencode(pairs)))
    key = f"{_rawurlencode(consumer_secret)}&{_rawurlencode(token_secret)}"
    expected = base64.b64encode(hmac.new(key.encode(), base.encode(), digest).digest()).decode()
    return hmac.compare_digest(expected, given)


def _rawurldecode(value: str) -> str:
    return unquote(value)  # PHP rawurldecode: %XX only, a "+" stays a "+"


def _rawurlencode(value: str) -> str:
    return quote(value, safe="-_.~")  # PHP rawurlencode (RFC 3986 unreserved characters kept)


def _natural(name: str) -> list:
    """PHP strnatcmp's order: runs of digits compare as numbers."""
    return [(0, int(run), "") if run.isdigit() else (1, 0, run) for run in re.findall(r"\d+|\D+", name)]


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S")


def _dec(value: Any, field: str = "value") -> Decimal:
    try:
        return Decimal(str(value if value is not None else 0))
    except InvalidOperation:
        raise _HttpError(400, 'The "%1" value\'s type is invalid.', [field]) from None


def _num(d: Decimal) -> float | int:
    """Magento serialises decimals as JSON numbers."""
    return int(d) if d == d.to_integral_value() and abs(d) < 10**15 else float(d)


def _money(d: Decimal) -> str:
    return f"{d:.2f}"


def _jsonable(value: Any) -> Any:
    if isinstance(value, Decimal):
        return _num(value)
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items() if not k.startswith("_")}
    if isinstance(value, list):
        return [_jsonable(v) for v in value]
    return value


def _parse_search(query: list[tuple[str, str]]) -> dict[str, Any]:
    groups: dict[int, dict[int, dict[str, str]]] = {}
    page_size = current_page = None
    for key, value in query:
        m = _FILTER.match(key)
        if m:
            g, f, attr = int(m.group(1)), int(m.group(2)), m.group(3)
            attr = {"conditionType": "condition_type"}.get(attr, attr)
            groups.setdefault(g, {}).setdefault(f, {})[attr] = value
        elif key == "searchCriteria[pageSize]":
            page_size = int(value)
        elif key == "searchCriteria[currentPage]":
            current_page = int(value)
    filter_groups = []
    for g in sorted(groups):
        filters = []
        for f in sorted(groups[g]):
            flt = groups[g][f]
            if "field" not in flt:
                raise _HttpError(400, REQUIRED, {"fieldName": "field"})
            filters.append(
                {
                    "field": flt["field"],
                    "value": flt.get("value", ""),
                    "condition_type": flt.get("condition_type", "eq"),
                }
            )
        filter_groups.append({"filters": filters})
    criteria: dict[str, Any] = {"filter_groups": filter_groups}
    if page_size is not None:
        criteria["page_size"] = page_size
    if current_page is not None:
        criteria["current_page"] = current_page
    return criteria


def _matches(entity: dict, flt: dict, allowed: set[str]) -> bool:
    field, value, cond = flt["field"], flt["value"], flt["condition_type"]
    if field not in allowed:
        raise _HttpError(400, "Invalid attribute name: %1", [field])
    actual = entity.get(field)
    text = "" if actual is None else str(_num(actual) if isinstance(actual, Decimal) else actual)
    if cond == "eq":
        return text.casefold() == value.casefold()
    if cond == "neq":
        return text.casefold() != value.casefold()
    if cond == "in":
        return text.casefold() in [v.strip().casefold() for v in value.split(",")]
    if cond == "like":
        pattern = "^" + re.escape(value.casefold()).replace("%", ".*") + "$"
        return re.match(pattern, text.casefold()) is not None
    if cond == "null":
        return actual is None
    if cond == "notnull":
        return actual is not None
    raise _HttpError(400, "Invalid condition type: %1", [cond])


def _search(entities: list[dict], criteria: dict, allowed: set[str]) -> list[dict]:
    found = [
        e
        for e in entities
        if all(any(_matches(e, f, allowed) for f in g["filters"]) for g in criteria["filter_groups"])
    ]
    size = criteria.get("page_size")
    if size:
        page = max(criteria.get("current_page") or 1, 1)
        found = found[(page - 1) * size : page * size]
    return found


class SimulatedCommerce:
    """An Adobe Commerce store on 127.0.0.1 with merchant actions and inspection for tests."""

    def __init__(
        self,
        on_event: Callable[[dict], None] | None = None,
        port: int = 0,
        *,
        credentials: dict[str, str] | None = None,
        allow_bearer: bool = False,
        clock: Callable[[], float] = time.time,
        schema_version: str | None = None,
        validate_responses: bool | None = None,
    ):
        self.port = port  # 0: any free port on 127.0.0.1
        # Adobe's admin REST schema this store follows (requests always; responses when asked,
        # as the test suite does through SIM_COMMERCE_VALIDATE_RESPONSES=1)
        self.schema_version = (
            schema_version or os.environ.get("SIM_COMMERCE_SCHEMA_VERSION") or commerce_schema.DEFAULT_VERSION
        )
        if self.schema_version not in commerce_schema.VERSIONS:
            raise ValueError(f"Unknown Commerce schema version {self.schema_version!r}")
        if validate_responses is None:
            validate_responses = os.environ.get("SIM_COMMERCE_VALIDATE_RESPONSES", "") not in ("", "0", "false")
        self.validate_responses = validate_responses
        self.schema_counts: dict[str, int] = {"requests": 0, "requests_refused": 0, "responses": 0}
        self.schema_warnings: list[str] = []  # nested `required` markers Magento does not enforce
        self.schema_violations: list[str] = []  # responses that broke the schema (answered 500)
        self.on_event = on_event
        # the integration's four credentials, as Commerce shows them to the merchant
        self.credentials = dict(credentials or INTEGRATION)
        self._integrations: dict[int, dict[str, str]] = {CONSUMER_ID: self.credentials}
        self.allow_bearer = allow_bearer
        # ACL resources the merchant left unticked on the integration (System > Extensions > Integrations)
        self.denied_resources: set[str] = set()
        self._clock = clock
        self._nonces: set[tuple[int, str]] = set()
        self._lock = threading.RLock()
        self._products: dict[str, dict] = {}
        self._customers: list[dict] = []
        self._orders: dict[int, dict] = {}
        self._invoices: dict[int, dict] = {}
        self._shipments: dict[int, dict] = {}
        self._creditmemos: dict[int, dict] = {}
        self._seq = {
            "product": 0,
            "customer": 0,
            "order": 0,
            "increment": 0,
            "item": 0,
            "address": 0,
            "invoice": 0,
            "shipment": 0,
            "track": 0,
            "history": 0,
            "creditmemo": 0,
        }
        self._faults: list[dict] = []
        self._status_states = {state: set(statuses) for state, statuses in DEFAULT_STATUS_STATES.items()}
        self._emails: list[dict] = []
        self._log: list[tuple[str, str, int]] = []
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # ------------------------------------------------------------------ lifecycle
    def start(self) -> SimulatedCommerce:
        if self._server is not None:
            return self
        sim = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def setup(self) -> None:
                super().setup()
                # headers and body go out in two writes: without this, Nagle's algorithm and the
                # peer's delayed ACK add ~40 ms to every response
                self.request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

            def log_message(self, *args: Any) -> None:  # keep test output quiet
                pass

            def _handle(self) -> None:
                sim._dispatch(self)

            do_GET = do_POST = do_PUT = do_DELETE = _handle

        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, name="sim-commerce", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
            self._thread = None

    def __enter__(self) -> SimulatedCommerce:
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    @property
    def base_url(self) -> str:
        if self._server is None:
            raise RuntimeError("SimulatedCommerce is not started")
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def _next(self, name: str) -> int:
        self._seq[name] += 1
        return self._seq[name]

    # ------------------------------------------------------------------ setup and merchant actions
    def set_product(
        self, sku: str, *, name: str | None = None, price: Any = None, qty: Any = None, enabled: bool | None = None
    ) -> None:
        with self._lock:
            p = self._products.get(sku)
            if p is None:
                p = {
                    "id": self._next("product"),
                    "sku": sku,
                    "name": sku,
                    "price": Decimal("0.00"),
                    "qty": Decimal("0"),
                    "enabled": True,
                    "min_qty": Decimal("0"),
                    "use_config_min_qty": True,
                    "reservations": [],
                }
                self._products[sku] = p
            if name is not None:
                p["name"] = name
            if price is not None:
                p["price"] = Decimal(str(price))
            if qty is not None:
                p["qty"] = Decimal(str(qty))
            if enabled is not None:
                p["enabled"] = bool(enabled)

    def assign_status(self, status: str, state: str) -> None:
        """The merchant assigns an order status to an order state (Stores > Order Status > Assign)."""
        with self._lock:
            self._status_states.setdefault(state, set()).add(status)

    def add_customer(self, email: str, firstname: str, lastname: str, website_id: int = 1) -> int:
        with self._lock:
            return self._create_customer(
                {"email": email, "firstname": firstname, "lastname": lastname, "website_id": website_id}
            )["id"]

    def merchant_ship(
        self,
        *,
        ext_order_id: str,
        carrier: str,
        tracking_number: str,
        items: list[dict] | None = None,
        notify: bool = False,
    ) -> int:
        """The merchant ships the order from the Commerce admin (Ship button, with a tracking number).

        `notify` is the form's "Email Copy of Shipment" box, unticked unless the merchant ticks it.
        """
        with self._lock:
            order = self._order_by_ext(ext_order_id)
            if order is None:
                raise ValueError(f"No Commerce order has ext_order_id {ext_order_id!r}")
            ship_items = []
            for it in items or []:
                matching = [i for i in order["items"] if i["sku"] == it["sku"]]
                if not matching:
                    raise ValueError(f"Order {order['increment_id']} has no item with SKU {it['sku']!r}")
                ship_items.append({"order_item_id": matching[0]["item_id"], "qty": it["qty"]})
            code = _CARRIER_CODES.get(carrier.strip().lower(), "custom")
            tracks = [{"track_number": tracking_number, "title": carrier, "carrier_code": code}]
            try:
                shipment = self._ship(order, ship_items, tracks, notify=notify)
            except _HttpError as e:
                raise ValueError(_render(e.message, e.parameters)) from None
            event = self._event(shipment)
        self._emit(event)
        return shipment["entity_id"]

    def merchant_cancel(self, *, ext_order_id: str, reason: str) -> str:
        """The merchant cancels the order from the Commerce admin, giving a reason.

        The reason goes on the order as a comment (Comments History, not notified). Then Magento's
        own rules apply: Cancel while something is left to invoice (event `order_cancel_after`);
        an invoiced order cannot be canceled, so the merchant issues an offline credit memo ("Refund
        Offline") of everything not shipped, items back to stock (event
        `sales_order_creditmemo_save_after`); Magento closes the order once nothing is left.
        Returns what was done: "canceled" or "credit memo".
        """
        with self._lock:
            order = self._order_by_ext(ext_order_id)
            if order is None:
                raise ValueError(f"No Commerce order has ext_order_id {ext_order_id!r}")
            if self._can_cancel(order):
                self._comment(order, reason)
                self._cancel(order)
                event, done = self._order_event(ORDER_CANCEL_EVENT, order), "canceled"
            else:
                items = []
                for i in order["items"]:
                    qty = min(i["qty_invoiced"] - i["qty_refunded"], _qty_to_ship(i))
                    if qty > 0:
                        items.append({"order_item_id": i["item_id"], "qty": qty})
                if not items:
                    raise ValueError(
                        f"Commerce order {order['increment_id']} ({order['state']}) has nothing left to cancel"
                    )
                shipped = any(i["qty_shipped"] > 0 for i in order["items"])
                shipping = (
                    Decimal(0)
                    if shipped
                    else (order.get("shipping_invoiced", Decimal(0)) - order.get("shipping_refunded", Decimal(0)))
                )
                self._comment(order, reason)
                try:
                    memo = self._refund(
                        order,
                        items,
                        {
                            "shipping_amount": shipping,
                            "extension_attributes": {"return_to_stock_items": [it["order_item_id"] for it in items]},
                        },
                        reason,
                        notify=False,
                    )
                except _HttpError as e:
                    raise ValueError(_render(e.message, e.parameters)) from None
                event, done = self._creditmemo_event(memo), "credit memo"
        self._emit(event)
        return done

    def create_compensations(self) -> list[str]:
        """The merchant runs Magento's reservation tool for finished orders:
        `bin/magento inventory:reservation:list-inconsistencies -c -r | bin/magento
        inventory:reservation:create-compensations` (Magento_InventoryReservationCli).

        For every complete, closed or canceled order whose reservations of a SKU do not sum to zero,
        a reservation of the opposite quantity is placed (an order saved through the repository
        never had MSI's -qty reservation, so its shipment, cancel and credit memo compensations are
        left over until then). Returns the lines the list command prints
        (`<increment id>:<sku>:<quantity>:<stock id>`).
        """
        printed = []
        with self._lock:
            finished = {
                o["entity_id"]: o for o in self._orders.values() if o["state"] in ("complete", "closed", "canceled")
            }
            for p in self._products.values():
                totals: dict[int, Decimal] = {}
                for r in p["reservations"]:
                    if r["object_id"] in finished:
                        totals[r["object_id"]] = totals.get(r["object_id"], Decimal(0)) + r["qty"]
                for order_id, total in totals.items():
                    if total:
                        self._reserve(p["sku"], -total, "compensation", finished[order_id])
                        printed.append(
                            f"{finished[order_id]['increment_id']}:{p['sku']}:{_num(-total)}:{DEFAULT_STOCK}"
                        )
        return printed

    def _comment(self, order: dict, comment: str) -> None:
        order["status_histories"].insert(
            0,
            {
                "entity_id": self._next("history"),
                "parent_id": order["entity_id"],
                "entity_name": "order",
                "comment": comment,
                "is_customer_notified": 0,
                "is_visible_on_front": 0,
                "status": order["status"],
                "created_at": _now(),
            },
        )

    def fail_next(
        self, method: str, path_prefix: str, status: int, count: int = 1, *, after_effect: bool = False
    ) -> None:
        """Answer the next `count` requests matching method and path prefix (`/V1/...` or the full
        `/rest/...` path) with `status`. By default nothing is done; with `after_effect=True` the
        request takes effect first and only its answer is lost (a timeout after commit)."""
        with self._lock:
            self._faults.append(
                {
                    "method": method.upper(),
                    "prefix": path_prefix,
                    "status": status,
                    "count": count,
                    "after": after_effect,
                }
            )

    # ------------------------------------------------------------------ inspection
    def _summary(self, order: dict) -> dict:
        shipments = [s for s in self._shipments.values() if s["order_id"] == order["entity_id"]]
        return {
            "order_id": order["entity_id"],
            "increment_id": order["increment_id"],
            "ext_order_id": order.get("ext_order_id"),
            "state": order["state"],
            "status": order["status"],
            "customer_email": order.get("customer_email"),
            "customer_is_guest": bool(order.get("customer_is_guest")),
            "customer_id": order.get("customer_id"),
            "grand_total": _money(order["grand_total"]),
            "items": [
                {"sku": i["sku"], "qty": int(i["qty_ordered"]), "price": _money(i["price"])} for i in order["items"]
            ],
            "shipments": [
                {
                    "carrier": (s["tracks"][0]["title"] or s["tracks"][0]["carrier_code"]) if s["tracks"] else None,
                    "tracking_number": s["tracks"][0]["track_number"] if s["tracks"] else None,
                    "items": [{"sku": i["sku"], "qty": int(i["qty"])} for i in s["items"]],
                }
                for s in sorted(shipments, key=lambda s: s["entity_id"])
            ],
            "invoiced": any(inv["order_id"] == order["entity_id"] for inv in self._invoices.values()),
            "emails_sent_to_customer": self._emails_to_buyer(order),
        }

    def _emails_to_buyer(self, order: dict) -> int:
        """The order's emails to its customer, plus the welcome email of the account the order was
        placed for, counted on that account's first order (the email that brought it)."""
        count = sum(1 for m in self._emails if m["order_id"] == order["entity_id"] and m["recipient"] == "customer")
        customer_id = order.get("customer_id")
        if customer_id is not None:
            first = min(o["entity_id"] for o in self._orders.values() if o.get("customer_id") == customer_id)
            if first == order["entity_id"]:
                count += sum(1 for m in self._emails if m["kind"] == "new_account" and m["customer_id"] == customer_id)
        return count

    def _send_mail(
        self,
        kind: str,
        to: str,
        *,
        order: dict | None = None,
        customer_id: int | None = None,
        recipient: str = "customer",
    ) -> None:
        self._emails.append(
            {
                "kind": kind,
                "to": to,
                "recipient": recipient,
                "order_id": order["entity_id"] if order else None,
                "customer_id": customer_id
                if customer_id is not None
                else (order.get("customer_id") if order else None),
            }
        )

    def emails(self) -> list[dict]:
        """Every email Commerce sent: kind (new_account, invoice, shipment, creditmemo,
        order_comment), address, recipient kind and the order or customer it was about."""
        with self._lock:
            return [dict(m) for m in self._emails]

    def orders(self) -> list[dict]:
        with self._lock:
            return [self._summary(o) for o in sorted(self._orders.values(), key=lambda o: o["entity_id"])]

    def order_by_ext_id(self, amazon_order_id: str) -> dict | None:
        with self._lock:
            order = self._order_by_ext(amazon_order_id)
            return None if order is None else self._summary(order)

    def comments(self, ext_order_id: str) -> list[str]:
        """The order's comments (Comments History), oldest first."""
        with self._lock:
            order = self._order_by_ext(ext_order_id)
            return [] if order is None else [h["comment"] for h in reversed(order["status_histories"])]

    def credit_memos(self, ext_order_id: str) -> list[dict]:
        with self._lock:
            order = self._order_by_ext(ext_order_id)
            return (
                []
                if order is None
                else [_jsonable(m) for m in self._creditmemos.values() if m["order_id"] == order["entity_id"]]
            )

    def customers(self) -> list[dict]:
        with self._lock:
            return sorted(
                (
                    {"email": c["email"], "firstname": c["firstname"], "lastname": c["lastname"]}
                    for c in self._customers
                ),
                key=lambda c: c["email"],
            )

    def product(self, sku: str) -> dict | None:
        with self._lock:
            p = self._products.get(sku)
            return (
                None
                if p is None
                else {
                    "sku": sku,
                    "name": p["name"],
                    "price": _money(p["price"]),
                    "qty": int(p["qty"]),
                    "salable_qty": int(self._salable(p)),
                    "min_qty": int(p["min_qty"]),
                    "enabled": p["enabled"],
                    "in_stock": p["qty"] > p["min_qty"],
                }
            )

    @property
    def order_count(self) -> int:
        with self._lock:
            return len(self._orders)

    @property
    def request_log(self) -> list[tuple[str, str, int]]:
        with self._lock:
            return list(self._log)

    # ------------------------------------------------------------------ HTTP plumbing
    def _dispatch(self, h: BaseHTTPRequestHandler) -> None:
        split = urlsplit(h.path)
        path = unquote(split.path)
        query = parse_qsl(split.query, keep_blank_values=True)
        length = int(h.headers.get("Content-Length") or 0)
        raw = h.rfile.read(length) if length else b""
        events: list[dict] = []
        try:
            status, payload = self._serve(
                h.command,
                path,
                query,
                raw,
                auth=h.headers.get("Authorization", ""),
                events=events,
                url=f"http://{h.headers.get('Host', '')}{h.path}",
            )
        except _HttpError as e:
            status, payload = e.status, {"message": e.message, "parameters": e.parameters}
            if e.errors:
                payload["errors"] = e.errors
        except Exception as e:  # noqa: BLE001 - a bug in the simulator shows as Magento's 500
            status, payload = (
                500,
                {
                    "message": f"Internal Error. Details are available in Magento log file. "
                    f"Report ID: webapi-{uuid.uuid4().hex[:13]}",
                    "trace": repr(e),
                },
            )
        status, payload = self._schema_answer(h.command, path, status, payload, query=query, raw=raw)
        with self._lock:
            self._log.append((h.command, split.path, status))
        body = json.dumps(payload).encode()
        h.send_response(status)
        h.send_header("Content-Type", "application/json; charset=utf-8")
        h.send_header("Content-Length", str(len(body)))
        h.end_headers()
        h.wfile.write(body)
        for event in events:
            self._emit(event)

    def _emit(self, event: dict) -> None:
        if self.on_event is not None:
            self.on_event(event)

    def _serve(
        self, method: str, path: str, query: list, raw: bytes, *, auth: str, events: list[dict], url: str = ""
    ) -> tuple[int, Any]:
        m = _PATH.match(path)
        fault = self._take_fault(method, path, m.group(1) if m else None)
        if fault is not None and not fault["after"]:
            raise self._fault_error(fault)
        if not m:
            raise _HttpError(404, NO_ROUTE)
        route, resource = self._route(method, m.group(1).rstrip("/"))
        self._authenticate(method, url, auth, resource)
        if resource in self.denied_resources:  # the integration was not granted the route's ACL resource
            raise _HttpError(401, UNAUTHORIZED, {"resources": resource})
        body: Any = None
        if method in ("POST", "PUT"):
            try:
                body = json.loads(raw or b"{}")
            except ValueError:
                raise _HttpError(400, "Decoding error: \nSyntax error") from None
            if not isinstance(body, dict):
                raise _HttpError(400, "Decoding error: \nSyntax error")
        self._schema_request(method, m.group(1).rstrip("/"), query, body)
        handler, args = route
        with self._lock:  # serialise under the lock: the handlers return live state
            result = _jsonable(handler(*args, query=query, body=body, events=events))
        if fault is not None:
            raise self._fault_error(fault)
        return 200, result

    @property
    def access_token(self) -> str:
        return self.credentials["access_token"]

    def _authenticate(self, method: str, url: str, auth: str, resource: str) -> None:
        """Magento's checks, in its order; a request that is no integration's is not authorized."""
        if auth.lower().startswith("bearer "):
            # TokenUserContext: an integration's token alone is refused unless the store allows it
            tokens = {c["access_token"] for c in self._integrations.values()}
            if not (self.allow_bearer and auth[7:].strip() in tokens):
                raise _HttpError(401, UNAUTHORIZED, {"resources": resource})
            return
        if "oauth " not in auth.lower():  # Oauth Helper\Request::_processHeader: no OAuth parameters
            raise _HttpError(401, UNAUTHORIZED, {"resources": resource})
        from oauthlib.oauth1.rfc5849.utils import parse_authorization_header

        try:
            params = dict(parse_authorization_header(auth[auth.lower().index("oauth ") :]))
        except ValueError:
            params = {}
        if "oauth_version" in params and params["oauth_version"] != "1.0":
            raise _HttpError(400, UNSUPPORTED_VERSION, [params["oauth_version"]])
        missing = [
            p
            for p in (
                "oauth_consumer_key",
                "oauth_signature",
                "oauth_signature_method",
                "oauth_nonce",
                "oauth_timestamp",
                "oauth_token",
            )
            if p not in params
        ]
        if len(missing) == 1:
            raise _HttpError(400, REQUIRED, {"fieldName": missing[0]})
        if missing:
            raise _HttpError(
                400, INPUT_ERRORS, errors=[{"message": REQUIRED, "parameters": {"fieldName": m}} for m in missing]
            )
        if len(params["oauth_token"]) != 32:
            raise _HttpError(400, TOKEN_LENGTH)
        if params["oauth_signature_method"] not in SIGNATURE_METHODS:
            raise _HttpError(400, UNSUPPORTED_METHOD, [params["oauth_signature_method"]])
        if len(params["oauth_consumer_key"]) != 32:
            raise _HttpError(401, CONSUMER_KEY_LENGTH)
        consumers = {c["consumer_key"]: (cid, c) for cid, c in self._integrations.items()}
        if params["oauth_consumer_key"] not in consumers:
            raise _HttpError(401, UNKNOWN_CONSUMER)
        consumer_id, consumer = consumers[params["oauth_consumer_key"]]
        # Nonce\Generator::validateNonce refuses a timestamp from too far in the future, not an old
        # one (a replay is stopped by the stored nonce), and its column holds 32 characters
        timestamp = int(params["oauth_timestamp"]) if params["oauth_timestamp"].isdigit() else 0
        if timestamp <= 0 or timestamp > self._clock() + TIME_DEVIATION or len(params["oauth_nonce"]) > 32:
            raise _HttpError(401, NONCE_ERROR)
        with self._lock:
            if (consumer_id, params["oauth_nonce"]) in self._nonces:
                raise _HttpError(401, NONCE_USED, [consumer_id])
            self._nonces.add((consumer_id, params["oauth_nonce"]))  # kept even if the signature fails
        tokens = {c["access_token"]: cid for cid, c in self._integrations.items()}
        if params["oauth_token"] not in tokens:
            raise _HttpError(401, UNKNOWN_TOKEN)
        if tokens[params["oauth_token"]] != consumer_id:
            raise _HttpError(401, TOKEN_NOT_CONSUMERS)
        if not signature_valid(method, url, auth, consumer["consumer_secret"], consumer["access_token_secret"]):
            raise _HttpError(401, BAD_SIGNATURE)

    def sign(self, method: str, url: str, credentials: dict[str, str] | None = None) -> str:
        """The `Authorization` header an integration's client sends for this request (OAuth 1.0a,
        HMAC-SHA256, a fresh nonce): for tests and tools that call the store's REST API directly."""
        from oauthlib.oauth1 import SIGNATURE_HMAC_SHA256, Client

        c = credentials or self.credentials
        signer = Client(
            c["consumer_key"],
            client_secret=c["consumer_secret"],
            resource_owner_key=c["access_token"],
            resource_owner_secret=c["access_token_secret"],
            signature_method=SIGNATURE_HMAC_SHA256,
        )
        return signer.sign(url, http_method=method)[1]["Authorization"]

    def add_integration(self, credentials: dict[str, str]) -> int:
        """Another integration on the store (another app's four credentials): its consumer id."""
        with self._lock:
            consumer_id = max(self._integrations) + 1
            self._integrations[consumer_id] = dict(credentials)
            return consumer_id

    # ------------------------------------------------------------------ Adobe's schema
    def _schema_request(self, method: str, api_path: str, query: list, body: Any) -> None:
        """Refuse, as Magento does, a request outside the schema (unknown field, wrong type, ...)."""
        schema = commerce_schema.schema(self.schema_version)
        op = schema.operation(method, api_path)
        if op is None:
            raise _HttpError(404, NO_ROUTE)
        try:
            warnings = schema.check_request(op, api_path, query, body)
        except commerce_schema.RequestRefused as e:
            self._schema_count("requests_refused")
            raise _HttpError(e.status, e.message, e.parameters) from None
        finally:
            self._schema_count("requests")
        if warnings:
            with self._lock:
                self.schema_warnings.extend(warnings)

    def _schema_answer(
        self, method: str, path: str, status: int, payload: Any, *, query: list, raw: bytes
    ) -> tuple[int, Any]:
        """The answer as Magento writes it (optional nulls left out), checked against the schema in tests."""
        m = _PATH.match(path)
        if m is None:  # not Magento's REST API (e.g. a subclass's own control routes)
            return status, _jsonable(payload)
        schema = commerce_schema.schema(self.schema_version)
        api_path = m.group(1).rstrip("/")
        op = schema.operation(method, api_path)
        payload = schema.as_written(op, status, _jsonable(payload))
        if commerce_schema.recording():
            try:
                body = json.loads(raw) if raw else None
            except ValueError:
                body = raw.decode(errors="replace")
            commerce_schema.record(
                commerce_schema.Exchange(self.schema_version, method, api_path, list(query), body, status, payload)
            )
        if not self.validate_responses:
            return status, payload
        violations = schema.response_violations(op, status, payload)
        self._schema_count("responses")
        if not violations:
            return status, payload
        with self._lock:
            self.schema_violations.extend(violations)
        for v in violations:
            commerce_schema.record_violation(v)
        return 500, {
            "message": "The simulated Commerce answered outside Adobe's schema "
            f"{self.schema_version}: " + "; ".join(violations[:5])
        }

    def _schema_count(self, what: str) -> None:
        with self._lock:
            self.schema_counts[what] += 1
        commerce_schema.count(self.schema_version, what)

    def _take_fault(self, method: str, path: str, api_path: str | None) -> dict | None:
        with self._lock:
            for fault in self._faults:
                if fault["method"] == method and (
                    path.startswith(fault["prefix"]) or (api_path or "").startswith(fault["prefix"])
                ):
                    fault["count"] -= 1
                    if fault["count"] <= 0:
                        self._faults.remove(fault)
                    return fault
        return None

    @staticmethod
    def _fault_error(fault: dict) -> _HttpError:
        if fault["status"] >= 500:
            return _HttpError(
                fault["status"],
                f"Internal Error. Details are available in Magento log file. Report ID: webapi-{uuid.uuid4().hex[:13]}",
            )
        return _HttpError(fault["status"], "Simulated failure")

    def _route(self, method: str, path: str) -> tuple[tuple[Callable, tuple], str]:
        table: list[tuple[str, str, Callable, str]] = [
            ("GET", r"/V1/customers/search", self._h_customer_search, "Magento_Customer::customer"),
            ("POST", r"/V1/customers", self._h_customer_create, "Magento_Customer::manage"),
            ("GET", r"/V1/customers/(\d+)", self._h_customer_get, "Magento_Customer::customer"),
            ("GET", r"/V1/orders", self._h_order_search, "Magento_Sales::actions_view"),
            ("POST", r"/V1/orders", self._h_order_save, "Magento_Sales::create"),
            ("GET", r"/V1/orders/(\d+)", self._h_order_get, "Magento_Sales::actions_view"),
            ("POST", r"/V1/orders/(\d+)/comments", self._h_order_comment, "Magento_Sales::comment"),
            ("POST", r"/V1/order/(\d+)/invoice", self._h_invoice, "Magento_Sales::invoice"),
            ("POST", r"/V1/order/(\d+)/ship", self._h_ship, "Magento_Sales::ship"),
            ("POST", r"/V1/orders/(\d+)/cancel", self._h_cancel, "Magento_Sales::cancel"),
            ("POST", r"/V1/order/(\d+)/refund", self._h_refund, "Magento_Sales::creditmemo"),
            ("GET", r"/V1/creditmemo/(\d+)", self._h_creditmemo_get, "Magento_Sales::sales_creditmemo"),
            ("GET", r"/V1/shipment/(\d+)", self._h_shipment_get, "Magento_Sales::shipment"),
            ("GET", r"/V1/shipments", self._h_shipment_search, "Magento_Sales::shipment"),
            ("GET", r"/V1/products/([^/]+)", self._h_product_get, "Magento_Catalog::products"),
            ("GET", r"/V1/stockItems/([^/]+)", self._h_stock_get, "Magento_CatalogInventory::cataloginventory"),
            (
                "PUT",
                r"/V1/products/([^/]+)/stockItems/([^/]+)",
                self._h_stock_update,
                "Magento_CatalogInventory::cataloginventory",
            ),
            (
                "GET",
                r"/V1/inventory/get-product-salable-quantity/([^/]+)/([^/]+)",
                self._h_salable_qty,
                "Magento_InventoryApi::stock",
            ),
            ("GET", r"/V1/inventory/source-items", self._h_source_items, "Magento_InventoryApi::source"),
            ("POST", r"/V1/inventory/source-items", self._h_source_items_save, "Magento_InventoryApi::source"),
        ]
        for verb, pattern, handler, resource in table:
            mm = re.fullmatch(pattern, path)
            if mm and verb == method:
                return (handler, mm.groups()), resource
        raise _HttpError(404, NO_ROUTE)

    # ------------------------------------------------------------------ customers
    def _customer_json(self, c: dict) -> dict:
        return dict(c)

    def _create_customer(self, data: dict) -> dict:
        for field in ("email", "firstname", "lastname"):
            if not str(data.get(field) or "").strip():
                raise _HttpError(400, REQUIRED, {"fieldName": field})
        email = str(data["email"]).strip()
        if "@" not in email:
            raise _HttpError(400, '"%fieldName" is not a valid email address.', {"fieldName": "email"})
        website_id = int(data.get("website_id") or 1)
        if any(c["email"].casefold() == email.casefold() and c["website_id"] == website_id for c in self._customers):
            raise _HttpError(400, DUPLICATE_CUSTOMER)
        now = _now()
        customer = {
            "id": self._next("customer"),
            "group_id": int(data.get("group_id") or 1),
            "created_at": now,
            "updated_at": now,
            "created_in": "Default Store View",
            "email": email,
            "firstname": str(data["firstname"]),
            "lastname": str(data["lastname"]),
            "store_id": int(data.get("store_id") or 1),
            "website_id": website_id,
            "addresses": [],
            "disable_auto_group_change": 0,
            "extension_attributes": {"is_subscribed": False},
        }
        self._customers.append(customer)
        return customer

    def _h_customer_search(self, *, query, body, events) -> dict:
        criteria = _parse_search(query)
        items = _search(
            self._customers, criteria, {"email", "website_id", "id", "firstname", "lastname", "store_id", "group_id"}
        )
        return {
            "items": [self._customer_json(c) for c in items],
            "search_criteria": criteria,
            "total_count": len(items),
        }

    def _h_customer_create(self, *, query, body, events) -> dict:
        """AccountManagement::createAccount: the account, then the welcome email to the customer
        (sendEmailConfirmation -> EmailNotification::newAccount; with "Require Emails Confirmation"
        on, the confirmation email instead: one email either way)."""
        data = body.get("customer")
        if not isinstance(data, dict):
            raise _HttpError(400, REQUIRED, {"fieldName": "customer"})
        customer = self._create_customer(data)
        self._send_mail("new_account", customer["email"], customer_id=customer["id"])
        return self._customer_json(customer)

    def _h_customer_get(self, customer_id: str, *, query, body, events) -> dict:
        for c in self._customers:
            if c["id"] == int(customer_id):
                return self._customer_json(c)
        raise _HttpError(
            404,
            "No such entity with %fieldName = %fieldValue",
            {"fieldName": "customerId", "fieldValue": int(customer_id)},
        )

    # ------------------------------------------------------------------ catalog
    def _product_json(self, p: dict) -> dict:
        return {
            "id": p["id"],
            "sku": p["sku"],
            "name": p["name"],
            "attribute_set_id": 4,
            "price": p["price"],
            "status": 1 if p["enabled"] else 2,
            "visibility": 4,
            "type_id": "simple",
            "extension_attributes": {"website_ids": [1], "stock_item": self._stock_json(p)},
        }

    def _stock_json(self, p: dict) -> dict:
        # The legacy stock item mirrors the default source (MSI keeps them in step in single-source mode).
        # Every other setting is a default store's, from the configuration.
        return {
            "item_id": p["id"],
            "product_id": p["id"],
            "stock_id": 1,
            "qty": p["qty"],
            "is_in_stock": p["qty"] > p["min_qty"],
            "is_qty_decimal": False,
            "show_default_notification_message": False,
            "use_config_min_qty": p["use_config_min_qty"],
            "min_qty": p["min_qty"],
            "use_config_min_sale_qty": 1,
            "min_sale_qty": 1,
            "use_config_max_sale_qty": True,
            "max_sale_qty": 10000,
            "use_config_backorders": True,
            "backorders": 0,
            "use_config_notify_stock_qty": True,
            "notify_stock_qty": 1,
            "use_config_qty_increments": True,
            "qty_increments": 0,
            "use_config_enable_qty_inc": True,
            "enable_qty_increments": False,
            "use_config_manage_stock": True,
            "manage_stock": True,
            "low_stock_date": None,
            "is_decimal_divided": False,
            "stock_status_changed_auto": 0,
        }

    @staticmethod
    def _salable(p: dict) -> Decimal:
        """MSI's GetProductSalableQty: source quantity + reservations - out-of-stock threshold."""
        return p["qty"] + sum((r["qty"] for r in p["reservations"]), Decimal(0)) - p["min_qty"]

    def _reserve(self, sku: str, qty: Decimal, event: str, order: dict) -> None:
        """PlaceReservationsForSalesEvent: one reservation line (+ releases, - holds)."""
        p = self._products.get(sku)
        if p is not None and qty:
            p["reservations"].append({"qty": qty, "event": event, "object_id": order["entity_id"]})

    def _deduct_for_shipment(self, order: dict, plan: dict[int, Decimal]) -> None:
        """SourceDeductionProcessor on a new shipment: all or nothing, then +qty compensations."""
        by_id = {i["item_id"]: i for i in order["items"]}
        wanted: dict[str, Decimal] = {}
        for item_id, qty in plan.items():
            wanted[self._sku_of(by_id[item_id])] = wanted.get(self._sku_of(by_id[item_id]), Decimal(0)) + qty
        for sku, qty in wanted.items():
            p = self._products.get(sku)
            if p is not None and p["qty"] - qty < 0:
                raise _HttpError(400, SOURCE_SHORT)
        for sku, qty in wanted.items():
            if sku in self._products:
                self._products[sku]["qty"] -= qty
                self._reserve(sku, qty, "shipment_created", order)

    def _sku_of(self, item: dict) -> str:
        """GetSkuFromOrderItem: the SKU of the item's product_id, else the item's own SKU."""
        pid = item.get("product_id")
        if pid is not None:
            for p in self._products.values():
                if p["id"] == int(pid):
                    return p["sku"]
        return item["sku"]

    def _h_stock_update(self, sku: str, item_id: str, *, query, body, events) -> int:
        """catalogInventoryStockRegistryV1 updateStockItemBySku: the given fields over the stored item."""
        p = self._products.get(sku)
        if p is None:
            raise _HttpError(404, PRODUCT_NOT_FOUND)
        data = body.get("stockItem")
        if not isinstance(data, dict):
            raise _HttpError(400, REQUIRED, {"fieldName": "stockItem"})
        if "qty" in data:
            p["qty"] = _dec(data["qty"], "qty")
        if "use_config_min_qty" in data:
            p["use_config_min_qty"] = bool(data["use_config_min_qty"])
        if "min_qty" in data:
            if p["use_config_min_qty"]:
                # Magento keeps the configured threshold (0 by default) while "Use Config" is ticked.
                p["min_qty"] = Decimal(0)
            else:
                p["min_qty"] = _dec(data["min_qty"], "min_qty")
        return p["id"]

    def _h_salable_qty(self, sku: str, stock_id: str, *, query, body, events) -> float | int:
        if stock_id != str(DEFAULT_STOCK):
            raise _HttpError(404, 'Stock with id "%value" does not exist.', {"value": stock_id})
        p = self._products.get(sku)
        if p is None:
            # The schema is silent on an unknown SKU; the stricter answer is chosen: refused.
            raise _HttpError(404, PRODUCT_NOT_FOUND)
        return self._salable(p)

    def _source_item(self, p: dict) -> dict:
        return {
            "sku": p["sku"],
            "source_code": DEFAULT_SOURCE,
            "quantity": p["qty"],
            "status": 1 if p["qty"] > 0 else 0,
        }

    def _h_source_items(self, *, query, body, events) -> dict:
        criteria = _parse_search(query)
        items = _search(
            [self._source_item(p) for p in self._products.values()],
            criteria,
            {"sku", "source_code", "quantity", "status"},
        )
        return {"items": items, "search_criteria": criteria, "total_count": len(items)}

    def _h_source_items_save(self, *, query, body, events) -> None:
        items = body.get("sourceItems")
        if not isinstance(items, list):
            raise _HttpError(400, REQUIRED, {"fieldName": "sourceItems"})
        updates = []
        for it in items:
            p = self._products.get(str(it.get("sku") or ""))
            if p is None or it.get("source_code") != DEFAULT_SOURCE:
                raise _HttpError(400, "Could not save Source Item")
            updates.append((p, _dec(it.get("quantity"), "quantity")))
        for p, quantity in updates:
            p["qty"] = quantity

    def _h_product_get(self, sku: str, *, query, body, events) -> dict:
        p = self._products.get(sku)
        if p is None:
            raise _HttpError(404, PRODUCT_NOT_FOUND)
        return self._product_json(p)

    def _h_stock_get(self, sku: str, *, query, body, events) -> dict:
        p = self._products.get(sku)
        if p is None:
            raise _HttpError(404, PRODUCT_NOT_FOUND)
        return self._stock_json(p)

    # ------------------------------------------------------------------ orders
    def _order_by_ext(self, ext_order_id: str) -> dict | None:
        for o in sorted(self._orders.values(), key=lambda o: o["entity_id"]):
            if o.get("ext_order_id") == ext_order_id:
                return o
        return None

    def _get_order(self, order_id: int | str) -> dict:
        order = self._orders.get(int(order_id))
        if order is None:
            raise _HttpError(404, NOT_FOUND)
        return order

    def _order_json(self, o: dict) -> dict:
        out = dict(o)
        out["status_histories"] = [dict(h) for h in o["status_histories"]]
        out["items"] = [dict(i) for i in o["items"]]
        # Magento writes every field the schema marks required, null when it has no value
        out["payment"] = self._written_as("sales-data-order-payment-interface", o["payment"])
        out["billing_address"] = self._written_as("sales-data-order-address-interface", o["billing_address"])
        ext = dict(o.get("extension_attributes") or {})
        if ext.get("shipping_assignments"):
            ext["shipping_assignments"] = [
                {
                    **a,
                    "shipping": {
                        **a["shipping"],
                        "address": self._written_as("sales-data-order-address-interface", a["shipping"]["address"]),
                    },
                }
                if isinstance((a.get("shipping") or {}).get("address"), dict)
                else a
                for a in ext["shipping_assignments"]
            ]
            out["extension_attributes"] = ext
        return out

    def _written_as(self, definition: str, data: dict) -> dict:
        return {**dict.fromkeys(commerce_schema.schema(self.schema_version).required(definition)), **data}

    def _h_order_search(self, *, query, body, events) -> dict:
        criteria = _parse_search(query)
        items = _search(
            sorted(self._orders.values(), key=lambda o: o["entity_id"]),
            criteria,
            {
                "ext_order_id",
                "increment_id",
                "entity_id",
                "customer_email",
                "status",
                "state",
                "store_id",
                "customer_id",
            },
        )
        return {"items": [self._order_json(o) for o in items], "search_criteria": criteria, "total_count": len(items)}

    def _h_order_get(self, order_id: str, *, query, body, events) -> dict:
        return self._order_json(self._get_order(order_id))

    def _h_order_save(self, *, query, body, events) -> dict:
        e = body.get("entity")
        if not isinstance(e, dict):
            raise _HttpError(400, REQUIRED, {"fieldName": "entity"})
        if e.get("entity_id"):
            raise _HttpError(400, "The simulator only saves new orders; entity_id must be absent.")
        raw_items = e.get("items") or []
        if not raw_items:
            raise _HttpError(400, "Please specify order items.")
        if not str(e.get("customer_email") or "").strip():
            raise _HttpError(400, REQUIRED, {"fieldName": "customer_email"})
        store_id = int(e.get("store_id") or 1)
        increment_id = e.get("increment_id")
        if increment_id:
            increment_id = str(increment_id)
            if any(o["increment_id"] == increment_id and o["store_id"] == store_id for o in self._orders.values()):
                raise _HttpError(400, "Unique constraint violation found")
        for it in raw_items:
            if not str(it.get("sku") or ""):
                raise _HttpError(400, REQUIRED, {"fieldName": "sku"})
            if _dec(it.get("qty_ordered"), "qty_ordered") <= 0:
                raise _HttpError(400, 'The "%1" value\'s type is invalid.', ["qty_ordered"])
        if not increment_id:
            while True:
                increment_id = f"{self._next('increment'):09d}"
                if not any(o["increment_id"] == increment_id for o in self._orders.values()):
                    break
        order_id = self._next("order")
        now = _now()
        items = []
        for it in raw_items:
            price = _dec(it.get("price"), "price")
            qty = _dec(it.get("qty_ordered"))
            item = {
                "item_id": self._next("item"),
                "order_id": order_id,
                "store_id": store_id,
                # stored as given: the repository neither looks the product up nor fills product_id
                "sku": str(it["sku"]),
                "name": it.get("name"),
                "product_id": it.get("product_id"),
                "product_type": it.get("product_type") or "simple",
                "qty_ordered": qty,
                "qty_invoiced": Decimal(0),
                "qty_shipped": Decimal(0),
                "qty_canceled": Decimal(0),
                "qty_refunded": Decimal(0),
                "price": price,
                "base_price": _dec(it.get("base_price", price)),
                "original_price": _dec(it.get("original_price", price)),
                "tax_amount": _dec(it.get("tax_amount")),
                "base_tax_amount": _dec(it.get("base_tax_amount", it.get("tax_amount"))),
                "discount_amount": _dec(it.get("discount_amount")),  # Magento: positive on an item
                "base_discount_amount": _dec(it.get("base_discount_amount", it.get("discount_amount"))),
                "row_total": _dec(it.get("row_total", price * qty)),
                "base_row_total": _dec(it.get("base_row_total", it.get("row_total", price * qty))),
                "created_at": now,
                "updated_at": now,
            }
            if it.get("ext_order_item_id") is not None:
                item["ext_order_item_id"] = str(it["ext_order_item_id"])
            for extra in ("price_incl_tax", "row_total_incl_tax", "tax_percent"):
                if it.get(extra) is not None:
                    item[extra] = _dec(it[extra])
            items.append(item)
        subtotal = _dec(e.get("subtotal", sum((i["row_total"] for i in items), Decimal(0))))
        shipping = _dec(e.get("shipping_amount"))
        tax = _dec(e.get("tax_amount"))
        discount = _dec(e.get("discount_amount"))  # Magento: negative on the order
        grand_total = _dec(e.get("grand_total", subtotal + shipping + tax + discount))
        currency = e.get("order_currency_code") or e.get("base_currency_code") or "USD"
        ext = e.get("extension_attributes") or {}
        assignments = []
        for a in ext.get("shipping_assignments") or []:
            shipping_info = dict(a.get("shipping") or {})
            if isinstance(shipping_info.get("address"), dict):
                shipping_info["address"] = self._address(shipping_info["address"], order_id, "shipping")
            assignments.append({"shipping": shipping_info, "items": [dict(i) for i in items]})
        payment = dict(e.get("payment") or {})
        if not payment.get("method"):
            raise _HttpError(400, REQUIRED, {"fieldName": "payment.method"})
        payment.update(
            {
                "entity_id": order_id,
                "parent_id": order_id,
                "amount_ordered": grand_total,
                "base_amount_ordered": grand_total,
            }
        )
        order = {
            "entity_id": order_id,
            "increment_id": increment_id,
            "ext_order_id": e.get("ext_order_id"),
            "store_id": store_id,
            "state": "new",
            "status": "pending",
            "customer_email": str(e["customer_email"]),
            "customer_firstname": e.get("customer_firstname"),
            "customer_lastname": e.get("customer_lastname"),
            "customer_id": e.get("customer_id"),
            "customer_is_guest": 1 if int(e.get("customer_is_guest") or 0) else 0,
            "customer_group_id": int(e.get("customer_group_id") or (0 if e.get("customer_is_guest") else 1)),
            "base_currency_code": e.get("base_currency_code") or currency,
            "order_currency_code": currency,
            "global_currency_code": e.get("global_currency_code") or currency,
            "store_currency_code": e.get("store_currency_code") or currency,
            "subtotal": subtotal,
            "base_subtotal": _dec(e.get("base_subtotal", subtotal)),
            "shipping_amount": shipping,
            "base_shipping_amount": _dec(e.get("base_shipping_amount", shipping)),
            "shipping_tax_amount": _dec(e.get("shipping_tax_amount")),
            "base_shipping_tax_amount": _dec(e.get("base_shipping_tax_amount", e.get("shipping_tax_amount"))),
            "shipping_description": e.get("shipping_description"),
            "tax_amount": tax,
            "base_tax_amount": _dec(e.get("base_tax_amount", tax)),
            "discount_amount": discount,
            "base_discount_amount": _dec(e.get("base_discount_amount", discount)),
            "shipping_discount_amount": _dec(e.get("shipping_discount_amount")),
            "base_shipping_discount_amount": _dec(
                e.get("base_shipping_discount_amount", e.get("shipping_discount_amount"))
            ),
            "discount_description": e.get("discount_description"),
            **{
                k: _dec(e[k])
                for k in ("subtotal_incl_tax", "base_subtotal_incl_tax", "shipping_incl_tax", "base_shipping_incl_tax")
                if e.get(k) is not None
            },
            "grand_total": grand_total,
            "base_grand_total": _dec(e.get("base_grand_total", grand_total)),
            "total_qty_ordered": sum((i["qty_ordered"] for i in items), Decimal(0)),
            "total_invoiced": Decimal(0),
            "total_paid": Decimal(0),
            "total_due": grand_total,
            "created_at": now,
            "updated_at": now,
            "items": items,
            "billing_address": self._address(e.get("billing_address") or {}, order_id, "billing"),
            "payment": payment,
            "status_histories": [],
            "extension_attributes": {"shipping_assignments": assignments},
        }
        self._orders[order_id] = order
        return self._order_json(order)

    def _address(self, a: dict, order_id: int, kind: str) -> dict:
        out = dict(a)
        out.update({"entity_id": self._next("address"), "parent_id": order_id, "address_type": kind})
        return out

    def _h_order_comment(self, order_id: str, *, query, body, events) -> bool:
        order = self._get_order(order_id)
        h = body.get("statusHistory")
        if not isinstance(h, dict):
            raise _HttpError(400, REQUIRED, {"fieldName": "statusHistory"})
        notified = 1 if int(h.get("is_customer_notified") or 0) else 0
        if h.get("status"):
            # OrderService::addComment refuses a status not assigned to the order's current state.
            status = str(h["status"])
            if status not in self._status_states.get(order["state"], set()):
                raise _HttpError(400, STATUS_NOT_ASSIGNED, [status])
            order["status"] = status
        order["status_histories"].insert(
            0,
            {
                "entity_id": self._next("history"),
                "parent_id": order["entity_id"],
                "entity_name": "order",
                "comment": h.get("comment"),
                "is_customer_notified": notified,
                "is_visible_on_front": 1 if int(h.get("is_visible_on_front") or 0) else 0,
                "status": order["status"],
                "created_at": _now(),
            },
        )
        if notified:  # OrderCommentSender::send($order, $notify, $comment)
            self._send_mail("order_comment", order["customer_email"], order=order)
        order["updated_at"] = _now()
        return True

    # ------------------------------------------------------------------ invoices
    def _h_invoice(self, order_id: str, *, query, body, events) -> int:
        order = self._get_order(order_id)
        open_items = [i for i in order["items"] if i["qty_invoiced"] < i["qty_ordered"] - i["qty_canceled"]]
        if order["state"] in ("canceled", "closed", "complete", "holded", "payment_review") or not open_items:
            raise _HttpError(400, CANNOT_INVOICE)
        for i in open_items:
            i["qty_invoiced"] = i["qty_ordered"] - i["qty_canceled"]
        invoice_id = self._next("invoice")
        self._invoices[invoice_id] = {
            "entity_id": invoice_id,
            "order_id": order["entity_id"],
            "increment_id": f"{invoice_id:09d}",
            "state": 2,
            "grand_total": order["grand_total"],
            "created_at": _now(),
            "capture_case": "online" if body.get("capture") else "offline",
        }
        order["total_invoiced"] = order["grand_total"]
        order["total_paid"] = order["grand_total"]
        order["shipping_invoiced"] = order["base_shipping_invoiced"] = order["shipping_amount"]
        order["total_due"] = Decimal(0)
        order["payment"]["amount_paid"] = order["grand_total"]
        self._update_state(order)
        if body.get("notify"):  # InvoiceOrder: the InvoiceNotifier sends the invoice email
            self._send_mail("invoice", order["customer_email"], order=order)
        return invoice_id

    def _update_state(self, order: dict) -> None:
        if order["state"] in ("canceled", "closed", "holded"):
            return
        active = [i for i in order["items"] if i["qty_ordered"] - i["qty_canceled"] > 0]
        invoiced = all(i["qty_invoiced"] >= i["qty_ordered"] - i["qty_canceled"] for i in active)
        shipped = all(_qty_to_ship(i) <= 0 for i in active)
        any_done = any(i["qty_invoiced"] > 0 or i["qty_shipped"] > 0 for i in active)
        if invoiced and shipped:
            order["state"] = order["status"] = "complete"
        elif any_done:
            order["state"] = order["status"] = "processing"
        order["updated_at"] = _now()

    # ------------------------------------------------------------------ cancel and credit memos
    @staticmethod
    def _can_cancel(order: dict) -> bool:
        """Magento's Order::canCancel(): not canceled, closed, complete or on hold, and something
        left to invoice (an order invoiced in full cannot be canceled, only refunded)."""
        if order["state"] in ("canceled", "closed", "complete", "holded", "payment_review"):
            return False
        return any(i["qty_invoiced"] < i["qty_ordered"] - i["qty_canceled"] for i in order["items"])

    def _cancel(self, order: dict) -> None:
        """Order::cancel() + registerCancellation(): cancel what is neither invoiced nor shipped."""
        refundable = False
        for i in order["items"]:
            to_invoice = i["qty_ordered"] - i["qty_invoiced"] - i["qty_canceled"]
            to_cancel = max(min(to_invoice, _qty_to_ship(i)), Decimal(0))
            i["qty_canceled"] += to_cancel
            if to_cancel:  # CancelOrderItemObserver: a +qty compensating reservation
                self._reserve(self._sku_of(i), to_cancel, "order_canceled", order)
            refundable = refundable or i["qty_invoiced"] - i["qty_refunded"] > 0
        state = "processing" if refundable else "canceled"
        order["state"] = order["status"] = state
        order["total_canceled"] = order["grand_total"] - order["total_paid"]
        order["updated_at"] = _now()

    def _h_cancel(self, order_id: str, *, query, body, events) -> bool:
        """salesOrderManagementV1CancelPost: true when canceled, false when Magento cannot cancel it."""
        order = self._get_order(order_id)
        if not self._can_cancel(order):
            return False
        self._cancel(order)
        events.append(self._order_event(ORDER_CANCEL_EVENT, order))
        return True

    def _refund(self, order: dict, items: list[dict], args: dict, comment: str | None, notify: bool) -> dict:
        """salesRefundOrderV1: an offline credit memo (the order was paid outside Commerce)."""
        if (
            order["state"] in ("canceled", "closed", "holded", "payment_review")
            or order["total_paid"] - order.get("total_refunded", Decimal(0)) <= 0
        ):
            raise _HttpError(400, CREDITMEMO_ERRORS, ["The order does not allow a creditmemo to be created."])
        by_id = {i["item_id"]: i for i in order["items"]}
        plan: dict[int, Decimal] = {}
        for it in items:
            try:
                item_id = int(it.get("order_item_id"))
            except (TypeError, ValueError):
                raise _HttpError(400, CREDITMEMO_ERRORS, ["The order item ID is required."]) from None
            if item_id not in by_id:
                raise _HttpError(
                    400,
                    CREDITMEMO_ERRORS,
                    ["The creditmemo contains product item that is not part of the original order."],
                )
            plan[item_id] = plan.get(item_id, Decimal(0)) + _dec(it.get("qty"), "qty")
        if not items:  # no items given: everything refundable
            plan = {k: i["qty_invoiced"] - i["qty_refunded"] for k, i in by_id.items()}
        for item_id, qty in plan.items():
            if qty < 0 or qty > by_id[item_id]["qty_invoiced"] - by_id[item_id]["qty_refunded"]:
                raise _HttpError(
                    400,
                    CREDITMEMO_ERRORS,
                    ["The quantity to creditmemo must not be greater than the unrefunded quantity."],
                )
        plan = {k: v for k, v in plan.items() if v > 0}
        shipping_left = order.get("shipping_invoiced", Decimal(0)) - order.get("shipping_refunded", Decimal(0))
        shipping = _dec(args.get("shipping_amount", shipping_left), "shipping_amount")
        if shipping > shipping_left:
            raise _HttpError(400, "Maximum shipping amount allowed to refund is: %1", [_money(shipping_left)])
        subtotal = sum((by_id[k]["price"] * q for k, q in plan.items()), Decimal(0))
        item_tax = {k: _item_tax_to_refund(by_id[k], q) for k, q in plan.items()}
        shipping_tax, partial_shipping = _shipping_tax_to_refund(order, shipping)
        # Magento's Creditmemo\Total\Tax: a memo that refunds the order's last units takes all the tax
        # still invoiced and not refunded (item and shipping tax alike), unless it refunds the shipping
        # only in part; any other memo takes its items' and shipping's shares, never more than is left.
        tax_left = order.get("tax_invoiced", order["tax_amount"]) - order.get("tax_refunded", Decimal(0))
        last = all(i["qty_invoiced"] - i["qty_refunded"] - plan.get(k, Decimal(0)) <= 0 for k, i in by_id.items())
        tax = tax_left if last and not partial_shipping else min(tax_left, sum(item_tax.values(), shipping_tax))
        # Magento's credit memo totals: the items' and the shipping's share of discount.
        discount = sum((by_id[k]["discount_amount"] * q / by_id[k]["qty_ordered"] for k, q in plan.items()), Decimal(0))
        if order["shipping_amount"]:
            discount += order.get("shipping_discount_amount", Decimal(0)) * shipping / order["shipping_amount"]
        total = (
            subtotal
            + tax
            + shipping
            - discount
            + _dec(args.get("adjustment_positive"))
            - _dec(args.get("adjustment_negative"))
        ).quantize(Decimal("0.01"))
        available = order["total_paid"] - order.get("total_refunded", Decimal(0))
        if total > available + Decimal("0.0001"):
            raise _HttpError(400, "The most money available to refund is %1.", [_money(available)])
        if total <= 0 and not plan:
            raise _HttpError(400, CREDITMEMO_ERRORS, ["The credit memo's total must be positive."])
        back_to_stock = {int(x) for x in ((args.get("extension_attributes") or {}).get("return_to_stock_items") or [])}
        for item_id, qty in plan.items():
            i = by_id[item_id]
            if item_id in back_to_stock and self._sku_of(i) in self._products:
                # ProcessRefundItems: units never deducted from the source (unshipped) are released
                # by a +qty compensating reservation, shipped ones go back to the source. Refunds
                # count against the unshipped units first, as Item::getSimpleQtyToShip does.
                unshipped = max(
                    i["qty_ordered"]
                    - i["qty_canceled"]
                    - i["qty_shipped"]
                    - i.get("_qty_refunded_unshipped", Decimal(0)),
                    Decimal(0),
                )
                to_reservation = min(qty, unshipped)
                i["_qty_refunded_unshipped"] = i.get("_qty_refunded_unshipped", Decimal(0)) + to_reservation
                self._reserve(self._sku_of(i), to_reservation, "creditmemo_created", order)
                self._products[self._sku_of(i)]["qty"] += qty - to_reservation
            i["qty_refunded"] += qty
            i["tax_refunded"] = i["base_tax_refunded"] = i.get("tax_refunded", Decimal(0)) + item_tax[item_id]
        order["tax_refunded"] = order["base_tax_refunded"] = order.get("tax_refunded", Decimal(0)) + tax
        order["shipping_tax_refunded"] = order["base_shipping_tax_refunded"] = (
            order.get("shipping_tax_refunded", Decimal(0)) + shipping_tax
        )
        order["total_refunded"] = order.get("total_refunded", Decimal(0)) + total
        order["base_total_refunded"] = order["total_refunded"]
        order["shipping_refunded"] = order["base_shipping_refunded"] = (
            order.get("shipping_refunded", Decimal(0)) + shipping
        )
        memo_id = self._next("creditmemo")
        memo = {
            "entity_id": memo_id,
            "order_id": order["entity_id"],
            "increment_id": f"{memo_id:09d}",
            "store_id": order["store_id"],
            "state": 2,
            "grand_total": total,
            "subtotal": subtotal,
            "shipping_amount": shipping,
            "shipping_tax_amount": shipping_tax,
            "tax_amount": tax,
            "created_at": _now(),
            "discount_amount": -discount if discount else Decimal(0),
            "items": [{"order_item_id": k, "sku": by_id[k]["sku"], "qty": q} for k, q in plan.items()],
            "comments": [{"comment": comment, "is_visible_on_front": 0}] if comment else [],
        }
        self._creditmemos[memo_id] = memo
        # Magento's order state handler: nothing left to ship -> complete, or closed once nothing
        # is left to refund either.
        if all(_qty_to_ship(i) <= 0 for i in order["items"]):
            order["state"] = "closed" if order["total_refunded"] >= order["total_paid"] else "complete"
        else:
            order["state"] = "processing"
        order["status"] = order["state"]
        order["updated_at"] = _now()
        if notify:  # RefundOrder: the CreditmemoNotifier sends the credit memo email
            self._send_mail("creditmemo", order["customer_email"], order=order)
        return memo

    def _h_refund(self, order_id: str, *, query, body, events) -> int:
        order = self._get_order(order_id)
        comment = (body.get("comment") or {}).get("comment") if isinstance(body.get("comment"), dict) else None
        memo = self._refund(
            order, body.get("items") or [], body.get("arguments") or {}, comment, notify=bool(body.get("notify"))
        )
        events.append(self._creditmemo_event(memo))
        return memo["entity_id"]

    def _h_creditmemo_get(self, memo_id: str, *, query, body, events) -> dict:
        memo = self._creditmemos.get(int(memo_id))
        if memo is None:
            raise _HttpError(404, NOT_FOUND)
        return self._creditmemo_json(memo)

    def _creditmemo_json(self, memo: dict) -> dict:
        return {
            **memo,
            "items": [self._written_as("sales-data-creditmemo-item-interface", i) for i in memo["items"]],
            "comments": [
                self._written_as(
                    "sales-data-creditmemo-comment-interface",
                    {"parent_id": memo["entity_id"], "is_customer_notified": 0, **c},
                )
                for c in memo["comments"]
            ],
        }

    def _cloud_event(self, event_type: str, value: dict) -> dict:
        """A PutEvents entry as Adobe I/O Events delivers a Commerce event to EventBridge.

        Adobe documents that the event data is "enclosed within the `detail` key" but not where the
        Commerce payload sits inside it; this store sends the CloudEvent (Adobe's Commerce docs show
        its payload at `data.value`), the stricter case for the channel being one level deeper. The
        selected fields are sent as Magento's observer data holds them: ids as strings, as in Adobe's
        sample payload (`"entity_id": "3"`).
        """
        detail = {
            "specversion": "1.0",
            "id": str(uuid.uuid4()),
            "type": event_type,
            "source": f"urn:uuid:{PROVIDER_ID}",
            "time": datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            "datacontenttype": "application/json",
            "data": {"value": {k: str(v) if k.endswith("_id") else v for k, v in _jsonable(value).items()}},
        }
        return {"Source": EVENT_SOURCE, "DetailType": detail_type(event_type), "Detail": json.dumps(detail)}

    def _order_event(self, event_type: str, order: dict) -> dict:
        return self._cloud_event(
            event_type,
            {
                "entity_id": order["entity_id"],
                "increment_id": order["increment_id"],
                "state": order["state"],
                "status": order["status"],
                "store_id": order["store_id"],
                "updated_at": order["updated_at"],
            },
        )

    def _creditmemo_event(self, memo: dict) -> dict:
        return self._cloud_event(
            CREDITMEMO_EVENT,
            {
                "entity_id": memo["entity_id"],
                "order_id": memo["order_id"],
                "increment_id": memo["increment_id"],
                "store_id": memo["store_id"],
                "created_at": memo["created_at"],
            },
        )

    # ------------------------------------------------------------------ shipments
    def _ship(self, order: dict, items: list[dict], tracks: list[dict], *, notify: bool) -> dict:
        if order["state"] in ("canceled", "closed", "holded", "complete"):
            raise _HttpError(400, SHIP_ERRORS, ["The order does not allow a shipment to be created."])
        by_id = {i["item_id"]: i for i in order["items"]}
        remaining = {i["item_id"]: _qty_to_ship(i) for i in order["items"]}
        plan: dict[int, Decimal] = {}
        if not items:
            plan = {k: v for k, v in remaining.items() if v > 0}
        else:
            for it in items:
                try:
                    item_id = int(it.get("order_item_id"))
                except (TypeError, ValueError):
                    raise _HttpError(400, SHIP_ERRORS, ["The order item ID is required."]) from None
                if item_id not in by_id:
                    raise _HttpError(400, SHIP_ERRORS, [f'The order item "{item_id}" does not belong to this order.'])
                qty = _dec(it.get("qty"), "qty")
                if qty < 0:
                    raise _HttpError(
                        400, SHIP_ERRORS, [f'We found an invalid quantity to ship for item "{by_id[item_id]["sku"]}".']
                    )
                plan[item_id] = plan.get(item_id, Decimal(0)) + qty
            for item_id, qty in plan.items():
                if qty > remaining[item_id]:
                    raise _HttpError(
                        400,
                        SHIP_ERRORS,
                        [
                            f'The quantity to ship for item "{by_id[item_id]["sku"]}" ({_num(qty)}) is more than '
                            f"remains to ship ({_num(remaining[item_id])})."
                        ],
                    )
            plan = {k: v for k, v in plan.items() if v > 0}
        if not plan:
            raise _HttpError(400, SHIP_ERRORS, ["You can't create a shipment without products."])
        for t in tracks:
            if not str(t.get("track_number") or "").strip():
                raise _HttpError(400, SHIP_ERRORS, ["Please enter a tracking number."])
            if not str(t.get("carrier_code") or "").strip():
                raise _HttpError(400, SHIP_ERRORS, ["Please enter a carrier code."])
        # sales_order_shipment_save_after runs inside the save's transaction: a refused source
        # deduction undoes the shipment.
        self._deduct_for_shipment(order, plan)
        shipment_id = self._next("shipment")
        now = _now()
        shipment = {
            "entity_id": shipment_id,
            "order_id": order["entity_id"],
            "increment_id": f"{shipment_id:09d}",
            "store_id": order["store_id"],
            "created_at": now,
            "updated_at": now,
            "total_qty": sum(plan.values(), Decimal(0)),
            "email_sent": 1 if notify else 0,
            "billing_address_id": order["billing_address"]["entity_id"],
            "items": [],
            "tracks": [],
            "comments": [],
            "packages": [],
        }
        for item_id, qty in plan.items():
            oi = by_id[item_id]
            oi["qty_shipped"] += qty
            shipment["items"].append(
                {
                    "entity_id": self._next("item"),
                    "parent_id": shipment_id,
                    "order_item_id": item_id,
                    "sku": oi["sku"],
                    "name": oi["name"],
                    "product_id": oi["product_id"],
                    "price": oi["price"],
                    "qty": qty,
                }
            )
        for t in tracks:
            shipment["tracks"].append(
                {
                    "entity_id": self._next("track"),
                    "parent_id": shipment_id,
                    "order_id": order["entity_id"],
                    "track_number": str(t["track_number"]),
                    "title": t.get("title") or "",
                    "carrier_code": str(t["carrier_code"]),
                    "created_at": now,
                    "updated_at": now,
                }
            )
        self._shipments[shipment_id] = shipment
        self._update_state(order)
        if notify:  # ShipOrder: the ShipmentNotifier sends the shipment email
            self._send_mail("shipment", order["customer_email"], order=order)
        return shipment

    def _event(self, shipment: dict) -> dict:
        return self._cloud_event(
            EVENT_TYPE,
            {
                "entity_id": shipment["entity_id"],
                "order_id": shipment["order_id"],
                "increment_id": shipment["increment_id"],
                "created_at": shipment["created_at"],
                "store_id": shipment["store_id"],
            },
        )

    def _h_ship(self, order_id: str, *, query, body, events) -> int:
        order = self._get_order(order_id)
        shipment = self._ship(order, body.get("items") or [], body.get("tracks") or [], notify=bool(body.get("notify")))
        events.append(self._event(shipment))
        return shipment["entity_id"]

    def _h_shipment_get(self, shipment_id: str, *, query, body, events) -> dict:
        s = self._shipments.get(int(shipment_id))
        if s is None:
            raise _HttpError(404, NOT_FOUND)
        return self._shipment_json(s)

    def _shipment_json(self, s: dict) -> dict:
        return {**s, "tracks": [self._written_as("sales-data-shipment-track-interface", t) for t in s["tracks"]]}

    def _h_shipment_search(self, *, query, body, events) -> dict:
        criteria = _parse_search(query)
        items = _search(
            sorted(self._shipments.values(), key=lambda s: s["entity_id"]),
            criteria,
            {"order_id", "entity_id", "increment_id", "store_id"},
        )
        return {
            "items": [self._shipment_json(s) for s in items],
            "search_criteria": criteria,
            "total_count": len(items),
        }


def _item_tax_to_refund(item: dict, qty: Decimal) -> Decimal:
    """Magento's Creditmemo\\Total\\Tax for one item: its invoiced tax not yet refunded, all of it for
    the item's last units, else the share of `qty` in the units left (rounded to the cent)."""
    left = item.get("tax_invoiced", item["tax_amount"]) - item.get("tax_refunded", Decimal(0))
    available = item["qty_invoiced"] - item["qty_refunded"]
    if qty <= 0 or available <= 0:
        return Decimal(0)
    return left if qty >= available else (left / available * qty).quantize(Decimal("0.01"))


def _shipping_tax_to_refund(order: dict, shipping: Decimal) -> tuple[Decimal, bool]:
    """Magento's Creditmemo\\Total\\Tax for the shipping of a memo made from the order (no invoice
    given, as `POST /V1/order/{id}/refund` makes it): (shipping tax refunded, shipping refunded only
    in part). Refunding part of the shipping refunds that share of its tax; refunding all the
    shipping left refunds all the shipping tax left, also when the shipping itself is 0.00 (free
    but taxed: Amazon's SHIPPING 0.00 with TAX/SHIPPING 0.40). The shipping-incl-tax, tax after
    discount configuration (the first branch taken for any amount) is a store setting the
    simulated store does not have."""
    order_shipping = order["shipping_amount"]
    left = order.get("base_shipping_amount", order_shipping) - order.get("base_shipping_refunded", Decimal(0))
    if order_shipping > 0 and left > shipping:
        part = shipping / order_shipping
        tax = (order["shipping_tax_amount"] * part).quantize(Decimal("0.01"))
        partial = part < 1 and (
            order["shipping_tax_amount"] > 0 or order.get("shipping_discount_amount", Decimal(0)) >= order_shipping
        )
        return tax, partial
    if left == shipping:
        return order["shipping_tax_amount"] - order.get("shipping_tax_refunded", Decimal(0)), False
    return Decimal(0), False


def _qty_to_ship(item: dict) -> Decimal:
    """Magento's Item::getSimpleQtyToShip(): a refunded unit is not shipped any more."""
    return item["qty_ordered"] - max(item["qty_shipped"], item["qty_refunded"]) - item["qty_canceled"]


def _render(message: str, parameters: Any) -> str:
    if isinstance(parameters, dict):
        for k, v in parameters.items():
            message = message.replace(f"%{k}", str(v))
    elif isinstance(parameters, list):
        for n, v in reversed(list(enumerate(parameters, 1))):
            message = message.replace(f"%{n}", str(v))
    return message
