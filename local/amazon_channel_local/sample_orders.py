"""Channel orders made up for the Orders view's contract test and latency benchmark.

`sample_orders(n)` gives `n` orders of one store, spread over purchase dates, statuses, buyers and
totals the way a merchant's history looks (mostly shipped, some unshipped, a few pending, canceled
or in error), each with Amazon's details and, once imported, its Commerce order. `write_orders`
stores them through the channel's own DynamoDB order store (the same items the handlers write).
"""

from __future__ import annotations

import random
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from amazon_channel.domain.models import (
    Address,
    AmazonOrder,
    AmazonOrderItem,
    AmazonPackage,
    AmazonStatus,
    ChannelOrder,
    ChannelStatus,
    CommerceRef,
    HistoryEntry,
    OrderLine,
    ShipmentRecord,
)

SELLER = "A1SIMSELLER0001"
MARKETPLACE = "ATVPDKIKX0DER"
FIRST = ["Ana", "Ben", "Chloe", "Dmitri", "Eva", "Farah", "Gustavo", "Hana", "Ivan", "Jun", "Kofi", "Lena"]
LAST = ["Souza", "Lima", "Okafor", "Novak", "Tanaka", "Müller", "Garcia", "Smith", "Kowalski", "Chen"]
SKUS = [("MUG-01", "Blue mug", "12.50"), ("TEA-02", "Green tea 100g", "5.25"), ("POT-03", "Tea pot", "29.90")]
# (channel status, Amazon status, share of orders)
MIX = [
    (ChannelStatus.SHIPPED, AmazonStatus.SHIPPED, 70),
    (ChannelStatus.UNSHIPPED, AmazonStatus.UNSHIPPED, 12),
    (ChannelStatus.PARTIALLY_SHIPPED, AmazonStatus.PARTIALLY_SHIPPED, 4),
    (ChannelStatus.PENDING, AmazonStatus.PENDING, 6),
    (ChannelStatus.CANCELED, AmazonStatus.CANCELED, 5),
    (ChannelStatus.ERROR, AmazonStatus.UNSHIPPED, 3),
]


def _iso(dt: datetime) -> str:
    return dt.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def order_id(n: int) -> str:
    return f"113-{n // 10_000_000 % 10_000_000:07d}-{n % 10_000_000:07d}"


def sample_order(n: int, rng: random.Random, start: datetime, seller: str = SELLER) -> ChannelOrder:
    statuses = [(c, a) for c, a, share in MIX for _ in range(share)]
    channel_status, amazon_status = statuses[rng.randrange(len(statuses))]
    fulfillment = "AFN" if rng.random() < 0.2 else "MFN"
    purchased = start + timedelta(minutes=7 * n, seconds=rng.randrange(400))
    oid = order_id(n)
    lines, items = [], []
    for i, (sku, title, price) in enumerate(rng.sample(SKUS, rng.randint(1, 2))):
        qty = rng.randint(1, 3)
        item_id = f"{61_000_000_000_000 + n * 10 + i}"
        shipped = (
            qty
            if channel_status == ChannelStatus.SHIPPED
            else (1 if channel_status == ChannelStatus.PARTIALLY_SHIPPED and i == 0 else 0)
        )
        lines.append(OrderLine(order_item_id=item_id, sku=sku, qty=qty, qty_shipped=shipped))
        items.append(
            AmazonOrderItem(
                order_item_id=item_id,
                sku=sku,
                title=title,
                qty=qty,
                unit_price=Decimal(price),
                line_tax=(Decimal(price) * qty * Decimal("0.08")).quantize(Decimal("0.01")),
                shipping_price=Decimal("4.99") if i == 0 else Decimal("0"),
            )
        )
    buyer = None if fulfillment == "AFN" else f"{rng.choice(FIRST)} {rng.choice(LAST)}"
    fetched = channel_status != ChannelStatus.PENDING
    details = (
        AmazonOrder(
            amazon_order_id=oid,
            marketplace_id=MARKETPLACE,
            fulfillment=fulfillment,
            status=amazon_status,
            purchase_date=_iso(purchased),
            last_updated=_iso(purchased + timedelta(hours=2)),
            buyer_name=buyer,
            buyer_email=None if buyer is None else f"buyer{n}@example.com",
            ship_to=Address(
                name=buyer or "Amazon customer",
                line1=f"{n} Main St",
                city="Seattle",
                region="WA",
                postcode="98101",
                country="US",
            ),
            items=items,
            packages=[
                AmazonPackage(
                    package_reference_id=f"fba-{n}",
                    carrier="AMZN_US",
                    tracking_number=f"TBA{n:09d}",
                    items=[(i.order_item_id, i.qty) for i in items],
                )
            ]
            if fulfillment == "AFN" and channel_status == ChannelStatus.SHIPPED
            else [],
        )
        if fetched
        else None
    )
    imported = channel_status in (ChannelStatus.SHIPPED, ChannelStatus.PARTIALLY_SHIPPED, ChannelStatus.UNSHIPPED)
    commerce = (
        CommerceRef(
            order_id=n + 1,
            increment_id=f"{n + 1:09d}",
            status="complete" if channel_status == ChannelStatus.SHIPPED else "processing",
        )
        if imported
        else None
    )
    shipments = []
    if fulfillment == "MFN" and channel_status in (ChannelStatus.SHIPPED, ChannelStatus.PARTIALLY_SHIPPED):
        shipments = [
            ShipmentRecord(
                commerce_shipment_id=n + 1,
                carrier="UPS",
                tracking_number=f"1Z{n:016d}",
                lines=[(ln.order_item_id, ln.qty_shipped) for ln in lines if ln.qty_shipped],
                package_reference_id=str(n + 1),
                confirmed_at=_iso(purchased + timedelta(days=1)),
            )
        ]
    notes = {
        ChannelStatus.SHIPPED: "Shipped: every package confirmed to Amazon",
        ChannelStatus.UNSHIPPED: f"Commerce order {commerce.increment_id if commerce else ''} created",
        ChannelStatus.PARTIALLY_SHIPPED: "Tracking synced to Amazon for 1 of 2 packages",
        ChannelStatus.PENDING: "",
        ChannelStatus.CANCELED: "Canceled on Amazon",
        ChannelStatus.ERROR: "Could not be imported: SKU POT-03 is out of stock",
    }[channel_status]
    return ChannelOrder(
        amazon_order_id=oid,
        seller_id=seller,
        marketplace_id=MARKETPLACE,
        fulfillment=fulfillment,
        amazon_status=amazon_status,
        amazon_status_at=_iso(purchased + timedelta(hours=2)),
        channel_status=channel_status,
        purchase_date=_iso(purchased),
        lines=lines,
        notes=notes,
        details=details,
        commerce=commerce,
        shipments=shipments,
        version=1,
        created_at=_iso(purchased),
        updated_at=_iso(purchased + timedelta(hours=2)),
    )


def sample_orders(n: int, seed: int = 7, start: datetime | None = None, seller: str = SELLER) -> list[ChannelOrder]:
    rng = random.Random(seed)  # noqa: S311 - repeatable sample data, not a secret
    start = start or datetime(2026, 1, 1, tzinfo=UTC)
    return [sample_order(i + 1, rng, start, seller) for i in range(n)]


def history_of(order: ChannelOrder) -> list[HistoryEntry]:
    return [
        HistoryEntry(
            at=order.created_at,
            kind="status",
            message=f"Amazon status {order.amazon_status.value}; channel status new -> {order.channel_status.value}",
            data={"source": "sample"},
        ),
        *([HistoryEntry(at=order.updated_at, kind="step", message=order.notes)] if order.notes else []),
    ]


class _Captured:
    """Stands in for the DynamoDB client: keeps the items a store's transaction would put."""

    def __init__(self) -> None:
        self.items: list[dict] = []

    def transact_write_items(self, TransactItems: list[dict]) -> dict:
        self.items += [t["Put"]["Item"] for t in TransactItems]
        return {}


def order_items(orders: Iterable[ChannelOrder]) -> list[dict]:
    """The DynamoDB items (state and history) `DynamoDbOrderStore.put_new` writes for these orders."""
    from amazon_channel.adapters.dynamodb_orders import DynamoDbOrderStore

    captured = _Captured()
    store = DynamoDbOrderStore("captured", captured)
    for order in orders:
        store.put_new(order, history_of(order))
    return captured.items


def write_orders(table: str, client, orders: Iterable[ChannelOrder]) -> int:
    """Load the orders into a fresh table: the order store's own items, in BatchWriteItem calls.

    (One TransactWriteItems per order, as the handlers write, costs moto a copy of the whole table
    each time; a bulk load into an empty table needs no condition.)
    """
    items = order_items(orders)
    for i in range(0, len(items), 25):
        request = {table: [{"PutRequest": {"Item": item}} for item in items[i : i + 25]]}
        while request:
            request = client.batch_write_item(RequestItems=request).get("UnprocessedItems") or None
    return sum(1 for item in items if item["sk"]["S"] == "STATE")
