"""`amazon-channel simulate --replay order.jsonl`: an exported order, reproduced locally.

A fresh embedded stack (template.yaml, the real handlers, the simulators) is set up as the
order's store was (its seller, marketplaces and order settings), and the simulators are seeded so
that the handlers' calls succeed as they did: the simulated Amazon holds the order as exported
(same order and item ids, prices, buyer stand-ins, FBA packages), the simulated Commerce sells
its SKUs at Amazon's prices, except SKUs the history says Commerce refused (missing, disabled,
out of stock), which are set up that way again.

Then the order's notifications are played in the order they were received, the stack settling
after each: every ORDER_CHANGE notification as Amazon sent it (the simulated Amazon's status
follows it; its own notifications are not delivered, so only the exported ones arrive), and every
merchant shipment as the merchant's action in Commerce (carrier, tracking number, items), which
makes the simulated Commerce emit its shipment event. An export without kept notifications (an
order recorded before they were kept) has them rebuilt from its status history.

Finally the local order's history is compared with the exported one, entry by entry, by kind and
message with ids, numbers and times left out: the same statuses and steps in the same order is a
match.
"""

from __future__ import annotations

import difflib
import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, TextIO

from amazon_channel.domain.models import AmazonOrder, ChannelOrder

from .errors import InvalidInput
from .handle import from_local_stack
from .order_data import read_order

_REFUSED = re.compile(r'Product "([^"]+)" cannot be ordered: (not found|disabled|insufficient stock)')
_VOLATILE = re.compile(r"[A-Za-z0-9_.:+-]*\d[A-Za-z0-9_.:+-]*")
_RANK = {
    "Pending": 0,
    "PendingAvailability": 0,
    "InvoiceUnconfirmed": 1,
    "Unshipped": 1,
    "PartiallyShipped": 2,
    "Shipped": 3,
    "Canceled": 3,
    "Unfulfillable": 3,
}


@dataclass
class Comparison:
    op: str  # equal | moved (the same entry elsewhere: concurrent steps ended in another order) |
    #          replace | delete (only exported) | insert (only local)
    exported: str | None
    local: str | None


@dataclass
class Reproduction:
    amazon_order_id: str
    exported_status: str | None
    local_status: str | None
    rows: list[Comparison]
    exported_bus_events: list[str] = field(default_factory=list)
    local_bus_events: list[str] = field(default_factory=list)
    played: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def matches(self) -> bool:
        return self.exported_status == self.local_status and all(r.op in ("equal", "moved") for r in self.rows)

    @property
    def bus_events_match(self) -> bool:
        """The same events about the order, whatever their order (EventBridge times are to the second)."""
        return sorted(self.exported_bus_events) == sorted(self.local_bus_events)

    def as_json(self) -> dict:
        return {
            "amazon_order_id": self.amazon_order_id,
            "matches": self.matches,
            "channel_status": {"exported": self.exported_status, "local": self.local_status},
            "history": [r.__dict__ for r in self.rows],
            "bus_events": {
                "exported": self.exported_bus_events,
                "local": self.local_bus_events,
                "match": self.bus_events_match,
            },
            "played": self.played,
            "notes": self.notes,
        }


def reproduce(
    records: list[dict],
    *,
    log_stream: TextIO | None = None,
    time_scale: float = 1.0,
    on_progress: Callable[[str], None] | None = None,
) -> Reproduction:
    from ..player import DEFAULT_MARKETPLACE, Player
    from ..scenario import SETTINGS, parse

    export = _Export(records)
    oid = export.amazon_order_id
    settings = {k: v for k, v in (export.store.get("settings") or {}).items() if k in SETTINGS}
    scenario = parse(
        {"name": f"local reproduction of {oid}", "settings": settings, "catalog": export.catalog(), "steps": []},
        f"export of {oid}",
    )
    notes: list[str] = []
    played: list[str] = []
    say = on_progress or (lambda _m: None)
    say("starting a fresh embedded stack")
    with Player(scenario, log_stream=log_stream, time_scale=time_scale) as p:
        p.amazon.notify = None  # only the exported notifications reach the stack
        marketplace = export.marketplace or DEFAULT_MARKETPLACE
        _connect_store(p, export.seller_id or p.amazon.seller_id, export.store, marketplace, settings)
        _seed_amazon_order(p.amazon, export, marketplace)
        sqs, queue = p.stack.client("sqs"), p.stack.queue_url("NotificationsQueue")
        for at, kind, payload in export.timeline(notes):
            if kind == "notification":
                status = payload["Payload"]["OrderChangeNotification"]["Summary"]["OrderStatus"]
                say(f"{at}: ORDER_CHANGE {status}")
                _follow_amazon_status(p.amazon, export, status)
                sqs.send_message(QueueUrl=queue, MessageBody=json.dumps(payload))
                played.append(f"{at} ORDER_CHANGE {status}")
            else:
                say(f"{at}: merchant ships in Commerce ({payload['tracking_number']})")
                if p.commerce.order_by_ext_id(oid) is None:
                    notes.append(
                        f"{at}: the merchant's shipment {payload['tracking_number']} was not played: "
                        "the local Commerce has no order for it"
                    )
                    continue
                try:
                    p.commerce.merchant_ship(ext_order_id=oid, **payload)
                except ValueError as e:
                    notes.append(f"{at}: the merchant's shipment {payload['tracking_number']} was refused: {e}")
                    continue
                played.append(f"{at} Commerce shipment {payload['tracking_number']}")
            p.stack.settle()
        say("reading the local order")
        local = read_order(from_local_stack(p.stack), oid, with_bus_events=True)
    exported_history = [r for r in records if r["type"] == "history"]
    local_history = [h.model_dump(mode="json") for h in local.history]
    return Reproduction(
        amazon_order_id=oid,
        exported_status=(export.state or {}).get("channel_status"),
        local_status=local.state.channel_status.value if local.state else None,
        rows=compare(exported_history, local_history),
        exported_bus_events=sorted(r["event"].get("detail-type", "") for r in records if r["type"] == "bus_event"),
        local_bus_events=sorted(e.get("detail-type", "") for e in local.bus_events),
        played=played,
        notes=notes,
    )


def compare(exported: list[dict], local: list[dict]) -> list[Comparison]:
    """Entry by entry, by kind and message with volatile parts (ids, numbers, times) left out."""
    a, b = [entry_key(e) for e in exported], [entry_key(e) for e in local]
    rows: list[Comparison] = []
    for op, i1, i2, j1, j2 in difflib.SequenceMatcher(a=a, b=b, autojunk=False).get_opcodes():
        left, right = [_shown(e) for e in exported[i1:i2]], [_shown(e) for e in local[j1:j2]]
        for k in range(max(len(left), len(right))):
            x = left[k] if k < len(left) else None
            y = right[k] if k < len(right) else None
            rows.append(
                Comparison(op if x is not None and y is not None else ("delete" if y is None else "insert"), x, y)
            )
    # An entry only on one side that has its twin only on the other side is the same step, in a
    # different order: independent actors (the workflow, the intake) raced, as they may.
    keyed = [(r, entry_key_of(r.exported or r.local or "")) for r in rows]
    for r, key in keyed:
        if r.op == "delete":
            twin = next((t for t, k in keyed if t.op == "insert" and k == key), None)
            if twin is not None:
                r.op = twin.op = "moved"
    return rows


def entry_key_of(shown: str) -> str:
    kind, _, message = shown.partition(": ")
    return entry_key({"kind": kind, "message": message})


def entry_key(entry: dict) -> str:
    return f"{entry['kind']}: {_VOLATILE.sub('#', entry['message'])}"


def _shown(entry: dict) -> str:
    return f"{entry['kind']}: {entry['message']}"


# -- the export, read ---------------------------------------------------------------------------
class _Export:
    def __init__(self, records: list[dict]):
        self.header = records[0]
        self.amazon_order_id = self.header["amazon_order_id"]
        self.store = next((r for r in records if r["type"] == "store"), {})
        order = next((r for r in records if r["type"] == "order"), None)
        self.state: dict | None = order["state"] if order else None
        self.notifications = [{**r["event"], "at": r["at"]} for r in records if r["type"] == "inbound" and "event" in r]
        self.history = [r for r in records if r["type"] == "history"]
        try:
            self.order = ChannelOrder.model_validate(self.state) if self.state else None
            self.details = (
                AmazonOrder.model_validate(self.state["details"]) if self.state and self.state.get("details") else None
            )
        except ValueError as e:
            raise InvalidInput(
                f"the export's order record is not a channel order this version reads: {str(e).splitlines()[0]}"
            ) from None
        if self.order is None and not any(r.get("source") == "amazon" and r.get("body") for r in self.notifications):
            raise InvalidInput("the export has neither the order's state nor its notifications: nothing to play")

    @property
    def seller_id(self) -> str | None:
        if self.order:
            return self.order.seller_id
        return self._first_notification().get("SellerId") or self.store.get("seller_id")

    @property
    def marketplace(self) -> str | None:
        if self.order:
            return self.order.marketplace_id
        return (self._first_notification().get("Summary") or {}).get("MarketplaceId")

    @property
    def fulfillment(self) -> str:
        if self.order:
            return self.order.fulfillment
        return (self._first_notification().get("Summary") or {}).get("FulfillmentType") or "MFN"

    def _first_notification(self) -> dict:
        for r in self.notifications:
            if r.get("source") == "amazon" and r.get("body"):
                return (r["body"].get("Payload") or {}).get("OrderChangeNotification") or {}
        return {}

    def items(self) -> list[dict]:
        """(order item id, sku, title, qty, price, tax, shipping, shipping tax) of the Amazon order."""
        if self.details is not None:
            return [
                {
                    "order_item_id": i.order_item_id,
                    "sku": i.sku,
                    "title": i.title,
                    "qty": i.qty,
                    "price": i.unit_price,
                    "tax": i.line_tax,
                    "shipping": i.shipping_price,
                    "shipping_tax": i.shipping_tax,
                }
                for i in self.details.items
            ]
        lines = self.order.lines if self.order else []
        if not lines:
            lines_raw = self._first_notification().get("Summary", {}).get("OrderItems", [])
            return [
                {
                    "order_item_id": i["OrderItemId"],
                    "sku": i["SellerSKU"],
                    "title": None,
                    "qty": i["Quantity"],
                    "price": Decimal("10.00"),
                    "tax": Decimal("0"),
                    "shipping": Decimal("0"),
                    "shipping_tax": Decimal("0"),
                }
                for i in lines_raw
            ]
        return [
            {
                "order_item_id": ln.order_item_id,
                "sku": ln.sku,
                "title": None,
                "qty": ln.qty,
                "price": Decimal("10.00"),
                "tax": Decimal("0"),
                "shipping": Decimal("0"),
                "shipping_tax": Decimal("0"),
            }
            for ln in lines
        ]

    def catalog(self) -> list[dict]:
        products: dict[str, dict] = {}
        for i in self.items():
            products.setdefault(
                i["sku"],
                {"sku": i["sku"], "name": i["title"] or i["sku"], "price": f"{Decimal(i['price']):.2f}", "qty": 1000},
            )
        for h in self.history:
            for sku, why in _REFUSED.findall(h.get("message", "")):
                if why == "not found":
                    products.pop(sku, None)
                elif sku in products:
                    products[sku].update({"enabled": False} if why == "disabled" else {"qty": 0})
        return list(products.values())

    def timeline(self, notes: list[str]) -> list[tuple[str, str, dict]]:
        steps: list[tuple[str, str, dict]] = []
        notifications = [r for r in self.notifications if r.get("source") == "amazon"]
        for r in notifications:
            if r.get("body"):
                steps.append((r["at"], "notification", r["body"]))
            else:
                notes.append(
                    f"{r['at']}: notification {r.get('id')} was not kept ({r.get('body_omitted_bytes')} bytes)"
                )
        if not notifications:
            steps += self._rebuilt_notifications()
            if steps:
                notes.append("no kept notifications in the export: rebuilt from the order's status history")
        if self.fulfillment == "MFN" and self.order is not None:
            steps += self._merchant_shipments(notes)
        return sorted(steps, key=lambda s: s[0])

    def _merchant_shipments(self, notes: list[str]) -> list[tuple[str, str, dict]]:
        sku_of = {i["order_item_id"]: i["sku"] for i in self.items()}
        event_at = {}
        for r in self.notifications:
            value = (((r.get("body") or {}).get("detail") or {}).get("data") or {}).get("value") or {}
            if r.get("source") == "commerce" and "entity_id" in value:
                event_at.setdefault(int(value["entity_id"]), r["at"])
        recorded_at = {}
        for h in self.history:
            m = re.match(r"Commerce shipment (\d+) recorded", h.get("message", ""))
            if m:
                recorded_at.setdefault(int(m.group(1)), h["at"])
        steps = []
        for s in self.order.shipments:
            at = event_at.get(s.commerce_shipment_id) or recorded_at.get(s.commerce_shipment_id)
            if at is None:
                notes.append(f"Commerce shipment {s.commerce_shipment_id} has no time in the export: not played")
                continue
            items: dict[str, int] = {}
            for item_id, qty in s.lines:
                sku = sku_of.get(item_id)
                if sku:
                    items[sku] = items.get(sku, 0) + qty
            steps.append(
                (
                    at,
                    "shipment",
                    {
                        "carrier": s.carrier,
                        "tracking_number": s.tracking_number,
                        "items": [{"sku": k, "qty": v} for k, v in items.items()] or None,
                    },
                )
            )
        return steps

    def _rebuilt_notifications(self) -> list[tuple[str, str, dict]]:
        if self.order is None:
            return []
        out = []
        for n, h in enumerate(e for e in self.history if e.get("kind") == "status"):
            data = h.get("data") or {}
            status = data.get("amazon_status")
            if not status:
                continue
            changed = data.get("changed_at") or h["at"]
            body = {
                "NotificationVersion": "1.0",
                "NotificationType": "ORDER_CHANGE",
                "PayloadVersion": "1.0",
                "EventTime": changed,
                "Payload": {
                    "OrderChangeNotification": {
                        "NotificationLevel": "OrderLevel",
                        "SellerId": self.order.seller_id,
                        "AmazonOrderId": self.amazon_order_id,
                        "OrderChangeType": "OrderStatusChange",
                        "OrderChangeTrigger": {"TimeOfOrderChange": changed, "ChangeReason": "Order Status Change"},
                        "Summary": {
                            "MarketplaceId": self.order.marketplace_id,
                            "OrderStatus": status,
                            "PurchaseDate": self.order.purchase_date,
                            "FulfillmentType": self.order.fulfillment,
                            "OrderItems": [
                                {
                                    "OrderItemId": ln.order_item_id,
                                    "SellerSKU": ln.sku,
                                    "Quantity": ln.qty,
                                    "QuantityShipped": ln.qty_shipped,
                                }
                                for ln in self.order.lines
                            ],
                        },
                    }
                },
                "NotificationMetadata": {
                    "ApplicationId": "amzn1.sellerapps.app.rebuilt",
                    "SubscriptionId": "rebuilt",
                    "PublishTime": changed,
                    "NotificationId": data.get("notification_id") or f"rebuilt-{n}",
                },
            }
            out.append((h["at"], "notification", body))
        return out


# -- seeding the stack and the simulators -------------------------------------------------------
def _connect_store(p: Any, seller_id: str, store: dict, marketplace: str, settings: dict) -> None:
    """The exported store's seller, marketplaces and settings; the simulated Amazon signs it in."""
    marketplaces = sorted(set(store.get("marketplace_ids") or []) | {marketplace})
    config = {"seller_id": seller_id, "marketplace_ids": marketplaces, "settings": settings}
    for key in ("commerce_website_id", "commerce_store_id"):
        if key in store:
            config[key] = store[key]
    p.stack.client("dynamodb").put_item(
        TableName=p.stack.resources["StoresTable"], Item={"id": {"S": seller_id}, "value": {"S": json.dumps(config)}}
    )
    credentials = p.amazon.credentials
    credentials["refresh_tokens"][seller_id] = p.amazon.refresh_token
    p.stack.client("secretsmanager").put_secret_value(
        SecretId=p.stack.resources["SpApiCredentialsSecret"], SecretString=json.dumps(credentials)
    )


def _seed_amazon_order(sim: Any, export: _Export, marketplace: str) -> None:
    """The order in the simulated Amazon as exported: same order and item ids, prices and buyer.

    (The simulator's verbs make new ids and send notifications; this sets its state directly.)
    """
    from ..simulators.amazon import MARKETPLACES, PLACEHOLDER_ADDRESS, _Item, _Order, iso

    d = export.details
    items = export.items()
    ship_to = dict(PLACEHOLDER_ADDRESS)
    if d is not None and d.ship_to is not None:
        ship_to.update({k: v for k, v in d.ship_to.model_dump().items() if v is not None})
    purchase = (d.purchase_date if d else None) or (export.order.purchase_date if export.order else None)
    with sim._lock:
        ts = sim._tick()
        sim._orders[export.amazon_order_id] = _Order(
            order_id=export.amazon_order_id,
            fulfillment=export.fulfillment,
            marketplace=marketplace,
            currency=(d.currency if d else None) or MARKETPLACES.get(marketplace, ("", "USD"))[1],
            buyer_name=d.buyer_name if d else None,
            buyer_email=d.buyer_email if d else None,
            ship_to=ship_to,
            items=[
                _Item(
                    order_item_id=i["order_item_id"],
                    sku=i["sku"],
                    title=i["title"] or f"Product {i['sku']}",
                    qty=int(i["qty"]),
                    price=Decimal(i["price"]),
                    tax=Decimal(i["tax"]),
                )
                for i in items
            ],
            shipping_price=sum((Decimal(i["shipping"]) for i in items), Decimal("0")),
            shipping_tax=sum((Decimal(i["shipping_tax"]) for i in items), Decimal("0")),
            purchase_date=purchase or iso(ts),
            status="Pending",
            last_updated=iso(ts),
        )


def _follow_amazon_status(sim: Any, export: _Export, status: str) -> None:
    """The simulated Amazon's order takes the notification's status (never moving back). An FBA
    order Amazon ships gets its exported packages."""
    from ..simulators.amazon import _Package, iso

    with sim._lock:
        order = sim._orders[export.amazon_order_id]
        if status == order.status or _RANK.get(status, 0) < _RANK.get(order.status, 0):
            return
        ts = sim._tick()
        if status == "Shipped" and order.fulfillment == "AFN" and not order.packages:
            packages = export.details.packages if export.details else []
            for n, pkg in enumerate(packages or [None], 1):
                lines = list(pkg.items) if pkg and pkg.items else [(i.order_item_id, i.qty) for i in order.items]
                order.packages.append(
                    _Package(
                        package_reference_id=(pkg.package_reference_id if pkg else None) or str(n),
                        carrier=(pkg.carrier if pkg else None) or "AMZL_US",
                        tracking_number=(pkg.tracking_number if pkg else None) or f"TBA{n:012d}",
                        ship_date=iso(ts),
                        items=lines,
                        created=iso(ts),
                    )
                )
            for it in order.items:
                it.shipped = it.qty
        order.status = status
        order.last_updated = iso(ts)


def table(rep: Reproduction):
    from rich.table import Table
    from rich.text import Text

    t = Table(
        title=f"{rep.amazon_order_id}: exported history vs. local reproduction",
        title_justify="left",
        caption=f"channel status: exported {rep.exported_status}, local {rep.local_status}",
        caption_justify="left",
    )
    t.add_column("#", justify="right")
    t.add_column("exported", overflow="fold")
    t.add_column("", justify="center")
    t.add_column("local", overflow="fold")
    marks = {
        "equal": ("=", "green"),
        "moved": ("~", "yellow"),
        "replace": ("≠", "red"),
        "delete": ("-", "red"),
        "insert": ("+", "red"),
    }
    for n, r in enumerate(rep.rows, 1):
        mark, style = marks[r.op]
        t.add_row(str(n), r.exported or "", Text(mark, style=style), r.local or "")
    return t
