"""A simulated Amazon: Selling Partner API (Orders v2026-01-01 searchOrders/getOrder, v0
confirmShipment), Login with Amazon, and ORDER_CHANGE notifications, on 127.0.0.1.

The core (`SimulatedAmazon.handle`) is a plain function from a request to a response, so a control
API or another transport can be added beside the stdlib HTTP server. Everything the simulator sends
(responses and notifications) is validated against the official models, and incoming
`confirmShipment` bodies are validated too, so a client that drifts from the model fails here.

Thread-safety: state is guarded by one lock; the `notify` callback is always called outside the
lock (it may call the simulator back over HTTP), so notifications of concurrent changes may be
delivered out of order, as Amazon's are.
"""

from __future__ import annotations

import base64
import copy
import json
import logging
import re
import secrets
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from amazon_channel_local.simulators.amazon_feeds import DOCUMENT_PATH, FEED_OPERATIONS, SimulatedFeeds
from amazon_channel_local.simulators.amazon_notifications import (
    NOTIFICATION_OPERATIONS,
    SimulatedNotifications,
    rate_header,
)
from amazon_channel_local.sp_api_models import (
    SchemaValidationError,
    rate_plan,
    validate_notification,
    validate_query,
    validate_request_body,
    validate_response,
)

log = logging.getLogger(__name__)

OPERATIONS = ("searchOrders", "getOrder", "confirmShipment", *FEED_OPERATIONS, *NOTIFICATION_OPERATIONS)
RATE_HEADER = {
    "searchOrders": "0.0056",
    "getOrder": "0.5",
    "confirmShipment": "2",
    "createFeedDocument": "0.5",
    "createFeed": "0.0083",
    "getFeed": "2",
    "getFeedDocument": "0.0222",
    **{op: rate_header(op) for op in NOTIFICATION_OPERATIONS},
}

FULFILLMENT_STATUS = {
    "Pending": "PENDING",
    "PendingAvailability": "PENDING_AVAILABILITY",
    "Unshipped": "UNSHIPPED",
    "PartiallyShipped": "PARTIALLY_SHIPPED",
    "Shipped": "SHIPPED",
    "Canceled": "CANCELLED",
    "Unfulfillable": "UNFULFILLABLE",
}
MARKETPLACES = {
    "ATVPDKIKX0DER": ("Amazon.com", "USD"),
    "A2EUQ1WTGCTBG2": ("Amazon.ca", "CAD"),
    "A1AM78C64UM0Y8": ("Amazon.com.mx", "MXN"),
    "A1F83G8C2ARO7P": ("Amazon.co.uk", "GBP"),
    "A1PA6795UKMFR9": ("Amazon.de", "EUR"),
    "A1VC38T7YXB528": ("Amazon.co.jp", "JPY"),
    "A2Q3Y263D00KWC": ("Amazon.com.br", "BRL"),
    "A33AVAJ2PDY3EV": ("Amazon.com.tr", "TRY"),
}
PLACEHOLDER_ADDRESS = {
    "name": "Amazon Customer",
    "line1": "410 Terry Ave N",
    "city": "Seattle",
    "region": "WA",
    "postcode": "98109",
    "country": "US",
}
ERROR_CODES = {
    400: ("InvalidInput", "The input you have submitted is not valid. Please check your input and try again."),
    403: ("Unauthorized", "Access to requested resource is denied."),
    404: ("NotFound", "The resource specified does not exist."),
    413: ("RequestEntityTooLarge", "The request size exceeded the maximum accepted size."),
    415: ("UnsupportedMediaType", "The request payload is in an unsupported format."),
    429: ("QuotaExceeded", "You exceeded your quota for the requested resource."),
    500: ("InternalFailure", "We encountered an internal error. Please try again."),
    503: ("ServiceUnavailable", "Service temporarily unavailable. Please try again."),
}
TOKEN_LIFETIME = 3600
# An order spec's `ship_to` keys -> the model's CustomerAddress fields
ADDRESS_FIELDS = {
    "name": "name",
    "company": "companyName",
    "line1": "addressLine1",
    "line2": "addressLine2",
    "line3": "addressLine3",
    "city": "city",
    "district": "districtOrCounty",
    "region": "stateOrRegion",
    "municipality": "municipality",
    "postcode": "postalCode",
    "country": "countryCode",
    "phone": "phone",
}
# The buyer's email is given once Amazon has verified the payment (real-services.md)
PAID = frozenset({"Unshipped", "PartiallyShipped", "Shipped"})
ORDER_ID_FORM = re.compile(r"^\d{3}-\d{7}-\d{7}$")


def iso(ts: datetime) -> str:
    """UTC, millisecond precision, `Z` suffix: one format, so timestamps sort as text."""
    return ts.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{ts.microsecond // 1000:03d}Z"


def parse_ts(value: str) -> datetime:
    dt = datetime.fromisoformat(value.replace("Z", "+00:00"))
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return dt


def money(amount: Decimal, currency: str) -> dict:
    return {"amount": f"{amount:.2f}", "currencyCode": currency}


_EXTRA_PROCEEDS = (
    "discount",
    "discount_tax",
    "gift_wrap",
    "gift_wrap_tax",
    "cod_fee",
    "cod_fee_tax",
    "other",
    "other_tax",
)


def _extra_proceeds(item_spec: dict) -> dict[str, Decimal]:
    """The simulator-only item options: `discount`, `discount_tax`, `gift_wrap`, `cod_fee`, `other`
    and their `_tax` (money strings)."""
    return {k: Decimal(str(item_spec[k])) for k in _EXTRA_PROCEEDS if item_spec.get(k) is not None}


def _breakdowns(o: _Order, n: int) -> list[tuple[str, Decimal, list[tuple[str, Decimal]]]]:
    """Item n's proceeds by category (ItemProceedsBreakdown): (type, subtotal, details).

    Shipping and its promotion sit on the first item. Amounts are what the seller receives, so a
    DISCOUNT is negative and every category adds up to proceedsTotal (the model is silent on the
    sign; this is the reading in which Amazon's examples and totals agree).
    """
    it = o.items[n]
    ship, ship_tax, ship_off = (o.shipping_price, o.shipping_tax, o.shipping_discount) if n == 0 else (0, 0, 0)
    out: list[tuple[str, Decimal, list[tuple[str, Decimal]]]] = [("ITEM", it.price * it.qty, [])]
    out.append(("SHIPPING", Decimal(ship), []))
    for kind, amount in (("GIFT_WRAP", it.gift_wrap), ("COD_FEE", it.cod_fee), ("OTHER", it.other)):
        if amount:
            out.append((kind, amount, []))
    taxes = [
        ("ITEM", it.tax),
        ("SHIPPING", Decimal(ship_tax)),
        ("GIFT_WRAP", it.gift_wrap_tax),
        ("COD_FEE", it.cod_fee_tax),
        ("OTHER", it.other_tax),
        ("DISCOUNT", it.discount_tax),
    ]
    taxes = [(k, v) for k, v in taxes if v or k in ("ITEM", "SHIPPING")]
    out.append(("TAX", sum((v for _, v in taxes), Decimal(0)), taxes))
    offs = [(k, -v) for k, v in (("ITEM", it.discount), ("SHIPPING", Decimal(ship_off))) if v]
    if offs:
        out.append(("DISCOUNT", sum((v for _, v in offs), Decimal(0)), offs))
    return out


def _item_proceeds(o: _Order, n: int) -> dict:
    cur = o.currency
    breakdowns = []
    for kind, subtotal, details in _breakdowns(o, n):
        b: dict[str, Any] = {"type": kind, "subtotal": money(subtotal, cur)}
        if details and o.detailed:
            b["detailedBreakdowns"] = [{"subtype": k, "value": money(v, cur)} for k, v in details]
        breakdowns.append(b)
    total = sum((subtotal for _, subtotal, _ in _breakdowns(o, n)), Decimal(0))
    return {"proceedsTotal": money(total, cur), "breakdowns": breakdowns}


def _order_proceeds(o: _Order) -> dict:
    """OrderProceeds: each category added up across the items, plus a delivery tip on the order."""
    sums: dict[str, Decimal] = {}
    for n in range(len(o.items)):
        for kind, subtotal, _ in _breakdowns(o, n):
            sums[kind] = sums.get(kind, Decimal(0)) + subtotal
    breakdowns = [{"type": k, "subtotal": money(v, o.currency)} for k, v in sums.items()]
    if o.delivery_tip:
        breakdowns.append(
            {"type": "DELIVERY_TIP", "status": "FINALIZED", "subtotal": money(o.delivery_tip, o.currency)}
        )
    total = sum(sums.values(), Decimal(0)) + o.delivery_tip
    return {"grandTotal": money(total, o.currency), "breakdowns": breakdowns}


class ApiError(Exception):
    def __init__(self, status: int, message: str | None = None, code: str | None = None):
        dcode, dmsg = ERROR_CODES.get(status, ("InternalFailure", "Error."))
        self.status = status
        self.code = code or dcode
        self.message = message or dmsg
        super().__init__(f"{status} {self.code}: {self.message}")


@dataclass
class Response:
    status: int
    body: Any = None  # dict -> JSON; None -> no body
    headers: dict[str, str] = field(default_factory=dict)
    content_type: str = "application/json"

    def json(self) -> Any:
        return self.body


@dataclass
class _Item:
    order_item_id: str
    sku: str
    title: str
    qty: int
    price: Decimal
    tax: Decimal
    shipped: int = 0
    canceled: int = 0  # units the seller canceled (cancellation feed)
    buyer_cancel_reason: str | None = None  # the buyer asked to cancel (IsBuyerRequestedCancel)
    # Proceeds beyond price and tax (simulator options; the scenario format has none of them):
    # money off the item, the tax change it brings (usually negative), and extra charges.
    discount: Decimal = Decimal(0)
    discount_tax: Decimal = Decimal(0)
    gift_wrap: Decimal = Decimal(0)
    gift_wrap_tax: Decimal = Decimal(0)
    cod_fee: Decimal = Decimal(0)
    cod_fee_tax: Decimal = Decimal(0)
    other: Decimal = Decimal(0)
    other_tax: Decimal = Decimal(0)


@dataclass
class _Package:
    package_reference_id: str
    carrier: str
    tracking_number: str
    ship_date: str
    items: list[tuple[str, int]]  # (orderItemId, qty)
    created: str


@dataclass
class _Order:
    order_id: str
    fulfillment: str  # MFN | AFN
    marketplace: str
    currency: str
    buyer_name: str | None
    buyer_email: str | None
    ship_to: dict
    items: list[_Item]
    shipping_price: Decimal
    shipping_tax: Decimal
    purchase_date: str
    status: str = "Pending"
    last_updated: str = ""
    packages: list[_Package] = field(default_factory=list)
    confirmations: list[dict] = field(default_factory=list)
    seller_id: str = ""  # the seller account it was sold by ("" = the simulator's first seller)
    shipping_discount: Decimal = Decimal(0)  # money off shipping (simulator option)
    delivery_tip: Decimal = Decimal(0)  # DELIVERY_TIP on the order (simulator option)
    detailed: bool = True  # TAX and DISCOUNT carry detailedBreakdowns (the model makes them optional)


class _Bucket:
    def __init__(self, rate: float, burst: int, now: Callable[[], float] = time.monotonic):
        self.rate, self.burst = rate, burst
        self.now = now  # seconds on the simulator's clock (a simulated clock makes quota runs fast)
        self.tokens = float(burst)
        self.at = now()

    def take(self) -> bool:
        now = self.now()
        self.tokens = min(self.burst, self.tokens + (now - self.at) * self.rate)
        self.at = now
        if self.tokens >= 1:
            self.tokens -= 1
            return True
        return False


class SimulatedAmazon:
    """A faithful-enough Amazon for one seller. See the module docstring."""

    def __init__(
        self,
        notify: Callable[[str], None] | None = None,
        seller_id: str = "A1SIMSELLER0001",
        clock: Callable[[], datetime] | None = None,
        enforce_rate_limits: bool = True,
        port: int = 0,
    ):
        self.port = port  # 0: any free port on 127.0.0.1
        self.notify = notify
        self.seller_id = seller_id
        self.clock = clock or (lambda: datetime.now(UTC))
        self.enforce_rate_limits = enforce_rate_limits
        self.client_id = "amzn1.application-oa2-client." + secrets.token_hex(16)
        self.client_secret = "amzn1.oa2-cs.v1." + secrets.token_hex(32)
        self.refresh_token = "Atzr|" + secrets.token_urlsafe(48)
        self.application_id = "amzn1.sellerapps.app." + str(uuid.uuid4())
        self.subscription_id = str(uuid.uuid4())
        self._lock = threading.RLock()
        self._orders: dict[str, _Order] = {}
        self._next_item_id = 61_000_000_000_001
        self._next_order_seq = 1
        self._last_ts: datetime | None = None
        self._access_tokens: dict[str, tuple[str, float]] = {}  # token -> (seller, expires on the clock)
        self._buckets: dict[tuple[str, str], _Bucket] = {}  # (seller, operation): Amazon's usage plans
        self._refresh_tokens = {seller_id: self.refresh_token}  # every seller authorised the application
        self._faults: dict[str, list[int]] = {op: [] for op in OPERATIONS}
        self._faults["lwa_token"] = []  # LWA's token exchange, faulted like an operation
        self._counts: dict[str, Any] = dict.fromkeys(OPERATIONS, 0)
        self._counts["lwa_token"] = 0
        self._counts["throttled"] = dict.fromkeys(OPERATIONS, 0)
        self._notifications: list[str] = []
        self._lose_notifications = False
        self.feeds = SimulatedFeeds(self)  # Feeds API: the seller's order cancellation feed
        self.notifications = SimulatedNotifications(self)  # Notifications API: destinations, subscriptions
        self.duplicate_confirmations = 0
        self.deliveries = 0
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # ------------------------------------------------------------------ lifecycle
    def start(self) -> SimulatedAmazon:
        if self._server is not None:
            return self
        sim = self

        class Handler(_Handler):
            simulator = sim

        server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        server.daemon_threads = True
        self._server = server
        self._thread = threading.Thread(
            target=lambda: server.serve_forever(poll_interval=0.05), name="SimulatedAmazon", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> SimulatedAmazon:
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    @property
    def base_url(self) -> str:
        if self._server is None:
            raise RuntimeError("SimulatedAmazon is not started")
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    @property
    def lwa_token_url(self) -> str:
        return self.base_url + "/auth/o2/token"

    @property
    def credentials(self) -> dict:
        return {
            "client_id": self.client_id,
            "client_secret": self.client_secret,
            "refresh_tokens": dict(self._refresh_tokens),
        }

    # ------------------------------------------------------------------ scenario verbs
    def place_order(self, spec: dict) -> str:
        """A buyer places an order: it exists as Pending, and ORDER_CHANGE is sent. Returns its id."""
        fulfillment = spec.get("fulfillment", "MFN")
        if fulfillment not in ("MFN", "AFN"):
            raise ValueError(f"fulfillment must be MFN or AFN, not {fulfillment!r}")
        if not spec.get("items"):
            raise ValueError("an order needs at least one item")
        marketplace = spec.get("marketplace") or "ATVPDKIKX0DER"
        currency = spec.get("currency") or MARKETPLACES.get(marketplace, ("", "USD"))[1]
        buyer = spec.get("buyer") or {}
        ship_to = {**PLACEHOLDER_ADDRESS, **{k: v for k, v in (spec.get("ship_to") or {}).items() if v is not None}}
        shipping = spec.get("shipping") or {}
        with self._lock:
            order_id = spec.get("id") or self._new_order_id()
            if order_id in self._orders:
                raise ValueError(f"order {order_id} already exists")
            items = []
            for it in spec["items"]:
                qty = int(it.get("qty", 1))
                if qty < 1:
                    raise ValueError(f"item {it.get('sku')}: qty must be at least 1")
                items.append(
                    _Item(
                        order_item_id=str(it.get("order_item_id") or self._next_item_id),
                        sku=it["sku"],
                        title=it.get("title") or f"Product {it['sku']}",
                        qty=qty,
                        price=Decimal(str(it["price"])),
                        tax=Decimal(str(it.get("tax", "0.00"))),
                        **_extra_proceeds(it),
                    )
                )
                self._next_item_id += 1
            ts = self._tick()
            purchase = spec.get("purchase_date")
            if isinstance(purchase, datetime):
                purchase = iso(purchase)
            order = _Order(
                order_id=order_id,
                fulfillment=fulfillment,
                marketplace=marketplace,
                currency=currency,
                buyer_name=buyer.get("name"),
                buyer_email=buyer.get("email"),
                ship_to=ship_to,
                items=items,
                shipping_price=Decimal(str(shipping.get("price", "0.00"))),
                shipping_tax=Decimal(str(shipping.get("tax", "0.00"))),
                purchase_date=purchase or iso(ts),
                status="Pending",
                last_updated=iso(ts),
                seller_id=self._seller(spec.get("seller_id")),
                shipping_discount=Decimal(str(shipping.get("discount", "0.00"))),
                delivery_tip=Decimal(str(spec.get("delivery_tip", "0.00"))),
                detailed=bool(spec.get("detailed_breakdowns", True)),
            )
            self._orders[order_id] = order
            body = self._notification(order, ts)
        self._deliver(body)
        return order_id

    def verify_payment(self, order_id: str) -> None:
        """Amazon verified the payment: Pending -> Unshipped."""
        self._transition(order_id, {"Pending"}, "Unshipped")

    def cancel(self, order_id: str) -> None:
        """The order is canceled (buyer or Amazon): Pending/Unshipped -> Canceled."""
        self._transition(order_id, {"Pending", "Unshipped"}, "Canceled")

    def request_buyer_cancellation(self, order_id: str, reason: str = "Order created by mistake") -> None:
        """The buyer asks Amazon to cancel an order not shipped yet: the seller decides (ORDER_CHANGE
        of type BuyerRequestedChange with IsBuyerRequestedCancel on the unshipped items)."""
        with self._lock:
            order = self._order(order_id)
            if order.status not in ("Pending", "Unshipped", "PartiallyShipped"):
                raise ValueError(f"order {order_id} is {order.status}: the buyer cannot ask to cancel it")
            for it in order.items:
                if it.shipped < it.qty:
                    it.buyer_cancel_reason = reason
            ts = self._tick()
            order.last_updated = iso(ts)
            body = self._notification(order, ts, change_type="BuyerRequestedChange", reason="Buyer Requested Cancel")
        self._deliver(body)

    def ship(self, order_id: str) -> None:
        """Amazon ships an FBA (AFN) order from its stock: Unshipped -> Shipped.

        No package is recorded: the model gives `packages` "only for merchant-fulfilled (FBM)
        orders", so an FBA order never shows Amazon's carrier or tracking number.
        """
        with self._lock:
            order = self._order(order_id)
            if order.fulfillment != "AFN":
                raise ValueError(f"order {order_id} is merchant-fulfilled: Amazon does not ship it")
            if order.status != "Unshipped":
                raise ValueError(f"order {order_id} is {order.status}: Amazon cannot ship it")
            ts = self._tick()
            for it in order.items:
                it.shipped = it.qty
            order.status = "Shipped"
            order.last_updated = iso(ts)
            body = self._notification(order, ts)
        self._deliver(body)

    def redeliver_notifications(self) -> None:
        """Deliver again, in the same order, every notification sent so far (same NotificationId)."""
        with self._lock:
            bodies = list(self._notifications)
        for body in bodies:
            self._send(body)

    def set_lose_notifications(self, enabled: bool) -> None:
        """While enabled, changes happen but their notifications are lost (not recorded either)."""
        with self._lock:
            self._lose_notifications = enabled

    def quotas_used(self) -> list[tuple[str, str]]:
        """The (seller, operation) usage plans drawn on so far."""
        with self._lock:
            return list(self._buckets)

    def refill_quotas(self) -> None:
        """Every usage plan full again, as after a quiet spell (each plan's burst, per Amazon's docs)."""
        with self._lock:
            self._buckets.clear()

    def add_seller(self, seller_id: str) -> str:
        """Another seller account authorises the application (a second store). Returns its refresh token.

        `place_order` then takes `"seller_id"` in the order spec; SP-API answers each seller only
        with its own orders, within its own usage plans.
        """
        with self._lock:
            return self._refresh_tokens.setdefault(seller_id, "Atzr|" + secrets.token_urlsafe(48))

    def fail_next(self, operation_id: str, status: int, count: int = 1, *, after_effect: bool = False) -> None:
        """Answer the next `count` calls of `operation_id` with `status` (an ErrorList body).

        By default the call does nothing; with `after_effect=True` it takes effect first and only
        its answer is lost (e.g. confirmShipment applied, the client sees a 500). `"lwa_token"`
        stands for LWA's token exchange."""
        if operation_id not in self._faults:
            raise ValueError(f"unknown operation {operation_id!r}")
        with self._lock:
            self._faults[operation_id].extend([(status, after_effect)] * count)

    def expire_access_tokens(self) -> None:
        """Every access token issued so far is now expired (the next SP-API call answers 403)."""
        with self._lock:
            self._access_tokens.clear()

    # ------------------------------------------------------------------ inspection
    def has_order(self, order_id: str) -> bool:
        """Whether the order has been placed (so far)."""
        with self._lock:
            return order_id in self._orders

    def order_status(self, order_id: str) -> str:
        with self._lock:
            return self._order(order_id).status

    def shipment_confirmations(self, order_id: str) -> list[dict]:
        with self._lock:
            return copy.deepcopy(self._order(order_id).confirmations)

    @property
    def call_counts(self) -> dict[str, Any]:
        with self._lock:
            return copy.deepcopy(self._counts)

    @property
    def notifications_sent(self) -> list[str]:
        """The JSON text of every distinct notification delivered (redeliveries not repeated)."""
        with self._lock:
            return list(self._notifications)

    def order_view(self, order_id: str, included: list[str] | None = None) -> dict:
        """The order as getOrder would answer it (no HTTP, no auth, no rate limit)."""
        with self._lock:
            return self._order_json(self._order(order_id), set(included or []))

    # ------------------------------------------------------------------ internals: state
    def _new_order_id(self) -> str:
        seq = self._next_order_seq
        self._next_order_seq += 1
        return f"113-{seq:07d}-{secrets.randbelow(10**7):07d}"

    def _seller(self, seller_id: str | None) -> str:
        seller = seller_id or self.seller_id
        if seller not in self._refresh_tokens:
            raise ValueError(f"unknown seller {seller} (add_seller first)")
        return seller

    def _sells(self, order: _Order, seller: str | None) -> bool:
        return seller is None or (order.seller_id or self.seller_id) == seller

    def _order(self, order_id: str) -> _Order:
        try:
            return self._orders[order_id]
        except KeyError:
            raise ValueError(f"unknown order {order_id}") from None

    def _tick(self) -> datetime:
        now = self.clock()
        if now.tzinfo is None:
            now = now.replace(tzinfo=UTC)
        now = now.replace(microsecond=(now.microsecond // 1000) * 1000)
        if self._last_ts is not None and now <= self._last_ts:
            now = self._last_ts + timedelta(milliseconds=1)
        self._last_ts = now
        return now

    def _transition(self, order_id: str, allowed: set[str], new: str) -> None:
        with self._lock:
            order = self._order(order_id)
            if order.status not in allowed:
                raise ValueError(f"order {order_id} is {order.status}: cannot become {new}")
            ts = self._tick()
            order.status = new
            order.last_updated = iso(ts)
            body = self._notification(order, ts)
        self._deliver(body)

    def _notification(
        self, order: _Order, ts: datetime, change_type: str = "OrderStatusChange", reason: str = "Order Status Change"
    ) -> str | None:
        """Build (and record) the ORDER_CHANGE for the order's current state; None when lost.

        `ChangeReason` reads as in Amazon's notification examples ("Order Status Change", "Buyer
        Requested Cancel"). A Shipped notification leaves `QuantityShipped` out, as Amazon's may
        (the schema does not require it): every unit has shipped then.
        """
        if self._lose_notifications:
            return None
        shipped = sum(it.shipped for it in order.items)
        unshipped = sum(it.qty - it.shipped for it in order.items) if order.status != "Canceled" else 0
        body = {
            "NotificationVersion": "1.0",
            "NotificationType": "ORDER_CHANGE",
            "PayloadVersion": "1.0",
            "EventTime": iso(ts),
            "Payload": {
                "OrderChangeNotification": {
                    "NotificationLevel": "OrderLevel",
                    "SellerId": order.seller_id or self.seller_id,
                    "AmazonOrderId": order.order_id,
                    "OrderChangeType": change_type,
                    "OrderChangeTrigger": {"TimeOfOrderChange": iso(ts), "ChangeReason": reason},
                    "Summary": {
                        "MarketplaceId": order.marketplace,
                        "OrderStatus": order.status,
                        "PurchaseDate": order.purchase_date,
                        "DestinationPostalCode": order.ship_to.get("postcode"),
                        "FulfillmentType": order.fulfillment,
                        "OrderType": "StandardOrder",
                        "NumberOfItemsShipped": shipped,
                        "NumberOfItemsUnshipped": unshipped,
                        "OrderItems": [self._notification_item(order, it) for it in order.items],
                    },
                }
            },
            "NotificationMetadata": {
                "ApplicationId": self.application_id,
                "SubscriptionId": self.notifications.subscription_id(order.seller_id or self.seller_id)
                or self.subscription_id,
                "PublishTime": iso(ts),
                "NotificationId": str(uuid.uuid4()),
            },
        }
        validate_notification(body)
        text = json.dumps(body, separators=(",", ":"))
        self._notifications.append(text)
        return text

    @staticmethod
    def _notification_item(order: _Order, it: _Item) -> dict:
        item = {
            "OrderItemId": it.order_item_id,
            "SellerSKU": it.sku,
            "SupplySourceId": None,
            "OrderItemStatus": "Shipped" if it.shipped >= it.qty else "Unshipped",
            "Quantity": it.qty,
            "QuantityShipped": it.shipped,
            "IsBuyerRequestedCancel": it.buyer_cancel_reason is not None,
        }
        if order.status == "Shipped":
            del item["QuantityShipped"]
        return item

    def _deliver(self, body: str | None) -> None:
        if body is not None:
            self._send(body)

    def _send(self, body: str) -> None:
        with self._lock:
            self.deliveries += 1
        if self.notify is not None:
            self.notify(body)

    # ------------------------------------------------------------------ internals: JSON views
    def _order_json(self, o: _Order, inc: set[str]) -> dict:
        cur = o.currency
        out: dict[str, Any] = {
            "orderId": o.order_id,
            "createdTime": o.purchase_date,
            "lastUpdatedTime": o.last_updated,
            "salesChannel": {
                "channelName": "AMAZON",  # the model's values: AMAZON, NON_AMAZON
                "marketplaceId": o.marketplace,
                "marketplaceName": MARKETPLACES.get(o.marketplace, ("Amazon", ""))[0],
            },
        }
        if "BUYER" in inc:
            buyer = {}
            if o.buyer_name:
                buyer["buyerName"] = o.buyer_name
            if o.buyer_email and o.fulfillment == "MFN" and o.status in PAID:
                # "Only available for merchant-fulfilled (FBM) orders", and only once paid
                buyer["buyerEmail"] = o.buyer_email
            if buyer:
                out["buyer"] = buyer
        if "RECIPIENT" in inc:
            a = o.ship_to
            addr = {
                k2: a[k1]
                for k1, k2 in ADDRESS_FIELDS.items()
                if a.get(k1) and not (k1 == "phone" and o.fulfillment == "AFN")  # suppressed on every FBA order
            }
            out["recipient"] = {"deliveryAddress": addr}
        if "PROCEEDS" in inc:
            out["proceeds"] = _order_proceeds(o)
        if "FULFILLMENT" in inc:
            out["fulfillment"] = {
                "fulfillmentStatus": FULFILLMENT_STATUS[o.status],
                "fulfilledBy": "MERCHANT" if o.fulfillment == "MFN" else "AMAZON",
            }
        items = []
        for n, it in enumerate(o.items):
            item: dict[str, Any] = {
                "orderItemId": it.order_item_id,
                "quantityOrdered": it.qty,
                "product": {
                    "sellerSku": it.sku,
                    "title": it.title,
                    "price": {"unitPrice": money(it.price, cur)},
                },
            }
            if "PROCEEDS" in inc:
                item["proceeds"] = _item_proceeds(o, n)
            if "FULFILLMENT" in inc:
                unfulfilled = 0 if o.status == "Canceled" else it.qty - it.shipped - it.canceled
                item["fulfillment"] = {"quantityFulfilled": it.shipped, "quantityUnfulfilled": unfulfilled}
            if "CANCELLATION" in inc and (it.buyer_cancel_reason or it.canceled):
                cancellation: dict[str, Any] = {}
                if it.buyer_cancel_reason:
                    cancellation["cancellationRequest"] = {"requester": "BUYER", "cancelReason": it.buyer_cancel_reason}
                if it.canceled:
                    cancellation["cancellationExecution"] = {
                        "cancelledBy": "MERCHANT",
                        "cancelReason": "Seller canceled",
                    }
                item["cancellation"] = cancellation
            items.append(item)
        out["orderItems"] = items
        if "PACKAGES" in inc and o.packages:
            out["packages"] = [
                {
                    "packageReferenceId": p.package_reference_id,
                    "createdTime": p.created,
                    "packageStatus": {"status": "SHIPPED"},
                    "carrier": p.carrier,
                    "shipTime": p.ship_date,
                    "trackingNumber": p.tracking_number,
                    "packageItems": [{"orderItemId": i, "quantity": q} for i, q in p.items],
                }
                for p in o.packages
            ]
        return out

    # ------------------------------------------------------------------ HTTP core
    def handle(self, method: str, target: str, headers: dict[str, str], body: bytes) -> Response:
        """Answer one HTTP request. Transport-independent; the HTTP server only adapts it."""
        parts = urlsplit(target)
        path = parts.path.rstrip("/") or "/"
        query = parse_qs(parts.query, keep_blank_values=True)
        hdrs = {k.lower(): v for k, v in headers.items()}
        if path == "/auth/o2/token" and method == "POST":
            return self._lwa(body)
        if path.startswith(DOCUMENT_PATH):  # a presigned feed document URL (Amazon's S3, no SP-API token)
            return self.feeds.serve_document(method, path, query, hdrs, body)
        notification_route = SimulatedNotifications.route(method, path)
        if notification_route is not None:
            return self._notifications_call(*notification_route, query, hdrs, body)
        route = self._route(method, path)
        if route is None:
            return Response(
                404,
                {"errors": [{"code": "NotFound", "message": f"No route for {method} {path}"}]},
                {"x-amzn-RequestId": str(uuid.uuid4())},
            )
        op, order_id = route
        resp = self._call(op, order_id, query, hdrs, body)
        resp.headers.setdefault("x-amzn-RequestId", str(uuid.uuid4()))
        resp.headers.setdefault("x-amzn-RateLimit-Limit", RATE_HEADER[op])
        if resp.status == 429:
            with self._lock:
                self._counts["throttled"][op] += 1
        validate_response(op, resp.status, resp.body)  # the simulator never sends off-model bodies
        return resp

    @staticmethod
    def _route(method: str, path: str) -> tuple[str, str | None] | None:
        seg = [unquote(s) for s in path.strip("/").split("/")]
        if method == "GET" and seg[:3] == ["orders", "2026-01-01", "orders"]:
            if len(seg) == 3:
                return "searchOrders", None
            if len(seg) == 4:
                return "getOrder", seg[3]
        if (
            method == "POST"
            and len(seg) == 5
            and seg[:3] == ["orders", "v0", "orders"]
            and seg[4] == "shipmentConfirmation"
        ):
            return "confirmShipment", seg[3]
        if seg[:2] == ["feeds", "2021-06-30"] and len(seg) in (3, 4) and seg[2] in ("documents", "feeds"):
            kind = "FeedDocument" if seg[2] == "documents" else "Feed"
            if method == "POST" and len(seg) == 3:
                return f"create{kind}", None
            if method == "GET" and len(seg) == 4:
                return f"get{kind}", seg[3]
        return None

    def _lwa(self, body: bytes) -> Response:
        with self._lock:
            self._counts["lwa_token"] += 1
            fault = self._faults["lwa_token"].pop(0) if self._faults["lwa_token"] else None
        if fault is not None:
            status, after_effect = fault
            if after_effect:
                self._lwa_exchange(body)  # a token is issued; its answer is lost
            # LWA documents no body for its 5xx answers: RFC 6749's error object is used
            return Response(status, {"error": "server_error", "error_description": "injected fault"})
        return self._lwa_exchange(body)

    def _lwa_exchange(self, body: bytes) -> Response:
        form = {k: v[0] for k, v in parse_qs(body.decode("utf-8", "replace")).items()}
        if form.get("grant_type") == "client_credentials":  # grantless operations (Notifications API)
            return self.notifications.grantless_token(form)
        if form.get("grant_type") != "refresh_token":
            return Response(
                400, {"error": "unsupported_grant_type", "error_description": "grant_type must be refresh_token"}
            )
        if form.get("client_id") != self.client_id or form.get("client_secret") != self.client_secret:
            return Response(400, {"error": "invalid_grant", "error_description": "Client authentication failed"})
        seller = next((s for s, t in self._refresh_tokens.items() if t == form.get("refresh_token")), None)
        if seller is None:
            return Response(
                400,
                {
                    "error": "invalid_grant",
                    "error_description": "The request has an invalid grant parameter : refresh_token",
                },
            )
        token = "Atza|" + secrets.token_urlsafe(48)
        with self._lock:
            self._access_tokens[token] = (seller, self.clock().timestamp() + TOKEN_LIFETIME)
        return Response(
            200,
            {
                "access_token": token,
                "token_type": "bearer",
                "expires_in": TOKEN_LIFETIME,
                "refresh_token": form["refresh_token"],
            },
        )

    def _notifications_call(self, op: str, params: dict, query: dict, hdrs: dict, body: bytes) -> Response:
        """A Notifications API call: its own token rules (grantless or the seller's), then the model."""
        with self._lock:
            self._counts[op] += 1
        who, refusal = self.notifications.authorize(op, hdrs.get("x-amz-access-token"))
        if refusal is not None:
            resp = _error(403, refusal, "Unauthorized")
        else:
            with self._lock:
                fault = self._faults[op].pop(0) if self._faults[op] else None
                throttled = fault is None and self.enforce_rate_limits and not self._bucket(who or "", op).take()
            try:
                resp = (
                    _error(fault)
                    if fault
                    else _error(429)
                    if throttled
                    else self.notifications.call(op, params, query, body, who or "")
                )
            except ApiError as e:
                resp = _error(e.status, e.message, e.code)
        resp.headers.setdefault("x-amzn-RequestId", str(uuid.uuid4()))
        if resp.status != 409:  # the model's 409 answers declare no rate limit header
            resp.headers.setdefault("x-amzn-RateLimit-Limit", RATE_HEADER[op])
        if resp.status == 429:
            with self._lock:
                self._counts["throttled"][op] += 1
        validate_response(op, resp.status, resp.body)
        return resp

    def _call(self, op: str, order_id: str | None, query: dict, hdrs: dict, body: bytes) -> Response:
        with self._lock:
            self._counts[op] += 1
            token = hdrs.get("x-amz-access-token")
            grant = self._access_tokens.get(token or "")
            if grant is None or grant[1] < self.clock().timestamp():
                msg = (
                    "Access to requested resource is denied."
                    if grant is None
                    else "The access token you provided has expired."
                )
                return _error(403, msg, "Unauthorized")
            lost_answer = None
            if self._faults[op]:
                status, after_effect = self._faults[op].pop(0)
                if not after_effect:
                    return _error(status)
                lost_answer = status
            if self.enforce_rate_limits and not self._bucket(grant[0], op).take():
                return _error(429)
        if lost_answer is not None:
            self._answer(op, order_id, query, grant[0], body)  # it takes effect; the answer is lost
            return _error(lost_answer)
        return self._answer(op, order_id, query, grant[0], body)

    def _answer(self, op: str, order_id: str | None, query: dict, seller: str, body: bytes) -> Response:
        try:
            if op == "searchOrders":
                return self._search(query, seller)
            if op == "getOrder":
                return self._get(order_id or "", query, seller)
            if op in FEED_OPERATIONS:
                return self.feeds.call(op, order_id, self._feed_body(op, body), seller)
            return self._confirm(order_id or "", body, seller)
        except ApiError as e:
            return _error(e.status, e.message, e.code)

    def _included(self, op: str, query: dict) -> tuple[dict, set[str]]:
        try:
            params = validate_query(op, query)
        except SchemaValidationError as e:
            raise ApiError(400, f"Invalid {e.field}: {e.detail}") from None
        return params, set(params.get("includedData", []))

    def _bucket(self, seller: str, op: str) -> _Bucket:
        if (seller, op) not in self._buckets:
            self._buckets[(seller, op)] = _Bucket(*rate_plan(op), now=lambda: self.clock().timestamp())
        return self._buckets[(seller, op)]

    def _get(self, order_id: str, query: dict, seller: str | None = None) -> Response:
        _, inc = self._included("getOrder", dict(query))
        _check_order_id(order_id)
        with self._lock:
            order = self._orders.get(order_id)
            if order is None or not self._sells(order, seller):
                raise ApiError(404, f"Order {order_id} not found.")
            return Response(200, {"order": self._order_json(order, inc)})

    def _search(self, query: dict, seller: str | None = None) -> Response:
        params, inc = self._included("searchOrders", query)
        created_after, updated_after = params.get("createdAfter"), params.get("lastUpdatedAfter")
        if (created_after is None) == (updated_after is None):
            raise ApiError(400, "Exactly one of createdAfter and lastUpdatedAfter is required.")
        if (created_after and "lastUpdatedBefore" in params) or (updated_after and "createdBefore" in params):
            raise ApiError(
                400, "createdAfter/createdBefore cannot be combined with lastUpdatedAfter/lastUpdatedBefore."
            )
        size = params.get("maxResultsPerPage", 100)
        if not 1 <= size <= 100:
            raise ApiError(400, "maxResultsPerPage must be between 1 and 100.")
        by_created = created_after is not None
        field_ = "purchase_date" if by_created else "last_updated"
        after = parse_ts(created_after or updated_after)
        with self._lock:
            clock_now = self.clock()
            if clock_now.tzinfo is None:
                clock_now = clock_now.replace(tzinfo=UTC)
            now = iso(max(clock_now, self._last_ts or clock_now))
            before_s = params.get("createdBefore" if by_created else "lastUpdatedBefore") or now
            cursor: tuple[str, str] | None = None
            if "paginationToken" in params:
                try:
                    tok = json.loads(base64.urlsafe_b64decode(params["paginationToken"].encode()))
                    before_s, cursor = tok["b"], (tok["k"][0], tok["k"][1])
                except (ValueError, KeyError, IndexError, TypeError):  # not base64, not JSON, not our shape
                    raise ApiError(400, "Invalid paginationToken.") from None
            before = parse_ts(before_s)
            statuses = set(params.get("fulfillmentStatuses", [])) or None
            markets = set(params.get("marketplaceIds", [])) or None
            by = set(params.get("fulfilledBy", [])) or None
            rows = []
            for o in self._orders.values():
                if not self._sells(o, seller):
                    continue
                at = parse_ts(getattr(o, field_))
                if not after <= at <= before:
                    continue
                if statuses and FULFILLMENT_STATUS[o.status] not in statuses:
                    continue
                if markets and o.marketplace not in markets:
                    continue
                if by and ("MERCHANT" if o.fulfillment == "MFN" else "AMAZON") not in by:
                    continue
                key = (iso(at), o.order_id)
                if cursor is not None and key <= cursor:
                    continue
                rows.append((key, o))
            rows.sort(key=lambda r: r[0])
            page, more = rows[:size], len(rows) > size
            body: dict[str, Any] = {"orders": [self._order_json(o, inc) for _, o in page]}
            if more:
                tok = {"b": before_s, "k": list(page[-1][0])}
                body["pagination"] = {"nextToken": base64.urlsafe_b64encode(json.dumps(tok).encode()).decode()}
            body["createdBefore" if by_created else "lastUpdatedBefore"] = iso(before)
            return Response(200, body)

    @staticmethod
    def _feed_body(op: str, raw: bytes) -> Any:
        """The JSON body of a Feeds call, checked against the official Feeds model."""
        return model_body(op, raw) if op in ("createFeedDocument", "createFeed") else None

    def _confirm(self, order_id: str, raw: bytes, seller: str | None = None) -> Response:
        try:
            payload = json.loads(raw or b"null")
        except ValueError:
            raise ApiError(400, "The request body is not valid JSON.") from None
        try:
            validate_request_body("confirmShipment", payload)
        except SchemaValidationError as e:
            raise ApiError(400, f"Invalid {e.field}: {e.detail}") from None
        detail = payload["packageDetail"]
        ref = detail["packageReferenceId"]
        _check_order_id(order_id)
        with self._lock:
            order = self._orders.get(order_id)
            if order is None or not self._sells(order, seller):
                raise ApiError(404, f"Order {order_id} not found.")
            if payload["marketplaceId"] != order.marketplace:
                raise ApiError(400, f"Order {order_id} was not placed in marketplace {payload['marketplaceId']}.")
            if order.fulfillment != "MFN":
                raise ApiError(400, f"Order {order_id} is fulfilled by Amazon; it cannot be confirmed by the seller.")
            if any(c["package_reference_id"] == ref for c in order.confirmations):
                self.duplicate_confirmations += 1
                raise ApiError(400, f"Package {ref} of order {order_id} was already confirmed.")
            if not (ref.isdigit() and int(ref) > 0):
                raise ApiError(400, "Invalid packageReferenceId: only positive numeric values are supported.")
            if order.status not in ("Unshipped", "PartiallyShipped"):
                raise ApiError(400, f"Order {order_id} is {order.status}; shipment cannot be confirmed.")
            by_id = {it.order_item_id: it for it in order.items}
            wanted: dict[str, int] = {}
            for line in detail["orderItems"]:
                item = by_id.get(line["orderItemId"])
                if item is None:
                    raise ApiError(400, f"Invalid orderItemId {line['orderItemId']} for order {order_id}.")
                if line["quantity"] < 1:
                    raise ApiError(400, f"Invalid quantity for orderItemId {line['orderItemId']}.")
                wanted[item.order_item_id] = wanted.get(item.order_item_id, 0) + line["quantity"]
            if not wanted:
                raise ApiError(400, "orderItems must not be empty.")
            for oid, qty in wanted.items():
                item = by_id[oid]
                if qty > item.qty - item.shipped:
                    raise ApiError(
                        400,
                        f"Quantity {qty} of orderItemId {oid} exceeds the {item.qty - item.shipped} still unshipped.",
                    )
            ts = self._tick()
            for oid, qty in wanted.items():
                by_id[oid].shipped += qty
            order.confirmations.append(
                {
                    "carrier": detail.get("carrierName") if detail["carrierCode"] == "Other" else detail["carrierCode"],
                    "tracking_number": detail["trackingNumber"],
                    "items": [{"sku": by_id[oid].sku, "qty": qty} for oid, qty in wanted.items()],
                    "package_reference_id": ref,
                    "ship_date": detail["shipDate"],
                }
            )
            order.packages.append(
                _Package(
                    ref,
                    detail["carrierCode"],
                    detail["trackingNumber"],
                    iso(parse_ts(detail["shipDate"])),
                    list(wanted.items()),
                    iso(ts),
                )
            )
            order.status = "Shipped" if all(it.shipped >= it.qty for it in order.items) else "PartiallyShipped"
            order.last_updated = iso(ts)
            note = self._notification(order, ts)
        try:
            self._deliver(note)
        except Exception:  # the change happened; a failing subscriber does not undo it
            log.exception("ORDER_CHANGE delivery failed for %s", order_id)
        return Response(204, None)


def _check_order_id(order_id: str) -> None:
    """An id not of Amazon's form (3-7-7 digits) is bad input, not an unknown order: Amazon's
    sandbox case answers `orderId` "TEST_CASE_400" with 400 InvalidInput."""
    if not ORDER_ID_FORM.match(order_id):
        raise ApiError(400, f"Invalid orderId {order_id!r}.")


def _error(status: int, message: str | None = None, code: str | None = None) -> Response:
    e = ApiError(status, message, code)
    return Response(status, {"errors": [{"code": e.code, "message": e.message}]})


class _Handler(BaseHTTPRequestHandler):
    simulator: SimulatedAmazon
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body are separate writes: avoid 40 ms delayed ACKs

    def _serve(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        try:
            resp = self.simulator.handle(self.command, self.path, dict(self.headers.items()), body)
        except Exception:
            log.exception("SimulatedAmazon failed on %s %s", self.command, self.path)
            resp = _error(500)
            resp.headers["x-amzn-RequestId"] = str(uuid.uuid4())
        data = (
            b"" if resp.body is None else resp.body if isinstance(resp.body, bytes) else json.dumps(resp.body).encode()
        )
        self.send_response(resp.status)
        for k, v in resp.headers.items():
            self.send_header(k, v)
        if data:
            self.send_header("Content-Type", resp.content_type)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if data:
            self.wfile.write(data)

    do_GET = _serve
    do_POST = _serve
    do_PUT = _serve
    do_DELETE = _serve

    def log_message(self, format: str, *args: Any) -> None:  # quiet; requests can carry PII
        log.debug("SimulatedAmazon: " + format, *args)


def model_body(op: str, raw: bytes) -> Any:
    """A request's JSON body, checked against the operation's official model: 400 otherwise."""
    try:
        payload = json.loads(raw or b"null")
    except ValueError:
        raise ApiError(400, "The request body is not valid JSON.") from None
    try:
        validate_request_body(op, payload)
    except SchemaValidationError as e:
        raise ApiError(400, f"Invalid {e.field}: {e.detail}") from None
    return payload
