"""The Orders view (the seed's "Orders tab"): what a merchant sees of the channel's orders.

- `parse_query` turns the request's query parameters into a checked `OrderQuery` (or raises
  `InvalidQuery`, naming the parameter).
- `list_orders` returns one page of rows, newest purchase first, through the `OrderQueries` port.
- `show_order` returns one order in full: items, ship-to, packages and tracking, and its history.
- `summarize` is the one definition of a row (used by the store adapter to keep the row's columns
  on the order item, and by the queries to filter).

Pending orders are hidden unless the query asks for them by status (`status=Pending`): Amazon has
not verified the payment yet, and the seed keeps them out of the Orders tab.
Nothing here imports boto3 or an HTTP library.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING

from pydantic import Field, field_serializer

from .errors import InvalidQuery, OrderNotFound
from .models import Address, ChannelOrder, ChannelStatus, HistoryEntry, Model

if TYPE_CHECKING:
    from .ports import OrderQueries, OrderStore

DEFAULT_LIMIT = 25
MAX_LIMIT = 100
MAX_BUYER_NAME = 100
MAX_CURSOR = 2048
ORDER_ID = re.compile(r"^\d{3}-\d{7}-\d{7}$")
SELLER_ID = re.compile(r"^[A-Z0-9]{1,32}$")
AMOUNT = re.compile(r"^\d{1,10}(\.\d{1,2})?$")
LIMIT = re.compile(r"^\d{1,3}$")
DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")
MOMENT = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,6})?)?(Z|[+-]\d{2}:\d{2})$")
PARAMETERS = (
    "seller_id",
    "status",
    "purchased_from",
    "purchased_to",
    "amazon_order_id",
    "buyer_name",
    "total_min",
    "total_max",
    "limit",
    "cursor",
)


def _money(v: Decimal | None) -> str | None:
    return None if v is None else f"{v:.2f}"


# -- the query ------------------------------------------------------------------------------------
class OrderQuery(Model):
    """A checked list request. Dates are canonical text bounds, comparable with stored purchase dates."""

    seller_id: str
    status: ChannelStatus | None = None  # None: every status but Pending
    purchased_from: str | None = None  # inclusive lower bound (a day or a canonical timestamp)
    purchased_to: str | None = None  # inclusive upper bound (a whole day, or up to that moment)
    amazon_order_id: str | None = None
    buyer_name: str | None = None  # case-folded; matches any part of the buyer's name
    total_min: Decimal | None = None
    total_max: Decimal | None = None
    commerce_order_number: str | None = None  # the orders page's search by Commerce order number
    limit: int = DEFAULT_LIMIT
    cursor: str | None = None  # opaque, from the previous page

    @property
    def filters(self) -> dict[str, str]:
        """The filters in force (not the page size or cursor), as text: a cursor is bound to them."""
        names = [p for p in PARAMETERS if p not in ("limit", "cursor")] + ["commerce_order_number"]
        return {n: str(getattr(self, n)) for n in names if getattr(self, n) is not None}

    def matches(self, row: OrderRow) -> bool:
        """Whether the row belongs on this query's pages (the store's own check of the same filters)."""
        return all(
            (
                self._wants_status(row.status),
                self.amazon_order_id is None or row.amazon_order_id == self.amazon_order_id,
                self._within_dates(row.purchase_date),
                self.buyer_name is None or self.buyer_name in fold(row.buyer_name or ""),
                self._within_totals(row.grand_total),
                self.commerce_order_number is None or row.commerce_order_number == self.commerce_order_number,
            )
        )

    def _wants_status(self, status: ChannelStatus) -> bool:
        return status != ChannelStatus.PENDING if self.status is None else status == self.status

    def _within_dates(self, day: str | None) -> bool:
        return day is None or (
            (self.purchased_from is None or day >= self.purchased_from)
            and (self.purchased_to is None or day <= upper_bound(self.purchased_to))
        )

    def _within_totals(self, total: Decimal | None) -> bool:
        return (self.total_min is None or (total is not None and total >= self.total_min)) and (
            self.total_max is None or (total is not None and total <= self.total_max)
        )


def fold(name: str) -> str:
    """Buyer names compare case-insensitively."""
    return name.casefold()


def upper_bound(purchased_to: str) -> str:
    """Text above every purchase date up to and including `purchased_to` ('~' sorts after digits, T, Z, #)."""
    return purchased_to + "~"


def parse_query(params: Mapping[str, str]) -> OrderQuery:
    """The request's query parameters, checked. Unknown parameters are refused, not ignored."""
    unknown = sorted(set(params) - set(PARAMETERS))
    if unknown:
        raise InvalidQuery(unknown[0], f"unknown parameter; the filters are {', '.join(PARAMETERS)}")
    q: dict[str, object] = {"seller_id": _seller_id(params.get("seller_id"))}
    _parse_into(q, params, ("status", "purchased_from", "purchased_to"))
    since, until = q.get("purchased_from"), q.get("purchased_to")
    if isinstance(since, str) and isinstance(until, str) and since > upper_bound(until):
        raise InvalidQuery("purchased_from", "is after purchased_to")
    _parse_into(q, params, ("amazon_order_id", "buyer_name", "total_min", "total_max"))
    least, most = q.get("total_min"), q.get("total_max")
    if isinstance(least, Decimal) and isinstance(most, Decimal) and least > most:
        raise InvalidQuery("total_min", "is above total_max")
    _parse_into(q, params, ("limit", "cursor"))
    return OrderQuery.model_validate(q)


def _parse_into(q: dict[str, object], params: Mapping[str, str], names: tuple[str, ...]) -> None:
    for name in names:
        if name in params:
            q[name] = _PARSERS[name](params[name])


def _seller_id(text: str | None) -> str:
    if not text:
        raise InvalidQuery("seller_id", "required: the Orders view lists one Amazon store (its SellerId)")
    if not SELLER_ID.fullmatch(text):
        raise InvalidQuery("seller_id", "must be an Amazon SellerId (capital letters and digits)")
    return text


def _status(text: str) -> ChannelStatus:
    try:
        return ChannelStatus(text)
    except ValueError:
        raise InvalidQuery("status", f"must be one of {', '.join(s.value for s in ChannelStatus)}") from None


def _amazon_order_id(text: str) -> str:
    if not ORDER_ID.fullmatch(text):
        raise InvalidQuery("amazon_order_id", "must be an Amazon order number (3-7-7 digits)")
    return text


def _buyer_name(text: str) -> str:
    name = text.strip()
    if not name or len(text) > MAX_BUYER_NAME:
        raise InvalidQuery("buyer_name", f"must be 1 to {MAX_BUYER_NAME} characters")
    return fold(name)


def _limit(text: str) -> int:
    if not LIMIT.fullmatch(text) or not 1 <= int(text) <= MAX_LIMIT:
        raise InvalidQuery("limit", f"must be a whole number from 1 to {MAX_LIMIT}")
    return int(text)


def _cursor(text: str) -> str:
    if not text or len(text) > MAX_CURSOR:
        raise InvalidQuery("cursor", "is not a cursor this API returned")
    return text


def _bound(name: str, text: str) -> str:
    """A day (`2026-11-26`) stays a day; a moment becomes the canonical UTC form of stored dates."""
    try:
        if DAY.fullmatch(text):
            return date.fromisoformat(text).isoformat()
        if MOMENT.fullmatch(text):
            return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    except ValueError:
        pass
    raise InvalidQuery(name, "must be a date (2026-11-26) or a moment with its zone (2026-11-26T10:00:00Z)")


def _amount(name: str, text: str) -> Decimal:
    if not AMOUNT.fullmatch(text):
        raise InvalidQuery(name, "must be an amount such as 25 or 31.99")
    try:
        return Decimal(text)
    except InvalidOperation:  # pragma: no cover - the pattern admits only decimals
        raise InvalidQuery(name, "must be an amount such as 25 or 31.99") from None


_PARSERS: dict[str, Callable[[str], object]] = {
    "status": _status,
    "purchased_from": lambda text: _bound("purchased_from", text),
    "purchased_to": lambda text: _bound("purchased_to", text),
    "amazon_order_id": _amazon_order_id,
    "buyer_name": _buyer_name,
    "total_min": lambda text: _amount("total_min", text),
    "total_max": lambda text: _amount("total_max", text),
    "limit": _limit,
    "cursor": _cursor,
}


# -- rows and pages -------------------------------------------------------------------------------
BUYER_REMOVED = "(removed)"  # the buyer's name once the retention period removed the buyer's data (domain.pii)


class OrderRow(Model):
    """One line of the Orders view."""

    purchase_date: str | None
    amazon_order_id: str
    status: ChannelStatus
    fulfillment: str
    marketplace_id: str
    buyer_name: str | None = None  # None until the order's details were fetched from Amazon
    grand_total: Decimal | None = None  # items, item tax, shipping and shipping tax, at Amazon's prices
    currency: str | None = None
    commerce_order_number: str | None = None  # the Commerce order's increment id
    notes: str = ""  # the latest action or error

    @field_serializer("grand_total")
    def _total(self, v: Decimal | None) -> str | None:
        return _money(v)


class OrderPage(Model):
    orders: list[OrderRow]
    next_cursor: str | None = None  # None: this is the last page


def grand_total(order: ChannelOrder) -> Decimal | None:
    """Amazon's order total, once known: item price x qty, item tax, shipping and shipping tax (the
    seed's grand total), and any gift wrap, COD fee, other charge or delivery tip, less promotions."""
    if order.details is None:
        return None
    return order.details.total


def summarize(order: ChannelOrder) -> OrderRow:
    details = order.details
    return OrderRow(
        purchase_date=order.purchase_date or (details.purchase_date if details else None),
        amazon_order_id=order.amazon_order_id,
        status=order.channel_status,
        fulfillment=order.fulfillment,
        marketplace_id=order.marketplace_id,
        buyer_name=BUYER_REMOVED if order.pii_removed_at else (details.buyer_name if details else None),
        grand_total=grand_total(order),
        currency=details.currency if details else None,
        commerce_order_number=order.commerce.increment_id if order.commerce else None,
        notes=order.notes,
    )


def list_orders(queries: OrderQueries, params: Mapping[str, str]) -> OrderPage:
    """One page of the store's orders matching the filters, newest purchase first."""
    return queries.list_orders(parse_query(params))


# -- one order in full ----------------------------------------------------------------------------
class OrderItemDetail(Model):
    order_item_id: str
    sku: str
    title: str | None = None
    qty: int
    qty_shipped: int = 0
    unit_price: Decimal | None = None
    line_tax: Decimal | None = None
    shipping_price: Decimal | None = None
    shipping_tax: Decimal | None = None
    buyer_requested_cancel: bool = False

    @field_serializer("unit_price", "line_tax", "shipping_price", "shipping_tax")
    def _money(self, v: Decimal | None) -> str | None:
        return _money(v)


class PackageItem(Model):
    order_item_id: str
    sku: str | None = None
    qty: int


class PackageDetail(Model):
    """A package: shipped by the merchant in Commerce (MFN), or by Amazon (FBA)."""

    shipped_by: str  # "merchant" | "amazon"
    carrier: str | None = None
    tracking_number: str | None = None
    package_reference_id: str | None = None
    commerce_shipment_id: int | None = None
    confirmed_to_amazon_at: str | None = None  # MFN: when confirmShipment accepted it
    items: list[PackageItem] = Field(default_factory=list)


class CommerceOrderDetail(Model):
    order_id: int
    increment_id: str
    status: str
    customer_is_guest: bool


class OrderDetail(Model):
    order: OrderRow
    seller_id: str
    amazon_status: str
    items: list[OrderItemDetail]
    ship_to: Address | None = None
    packages: list[PackageDetail]
    commerce_order: CommerceOrderDetail | None = None
    history: list[HistoryEntry]


@dataclass
class OrdersViewPorts:
    queries: OrderQueries
    orders: OrderStore


def check_order_id(amazon_order_id: str) -> str:
    if not ORDER_ID.fullmatch(amazon_order_id):
        raise InvalidQuery("amazonOrderId", "must be an Amazon order number (3-7-7 digits)")
    return amazon_order_id


def show_order(orders: OrderStore, amazon_order_id: str) -> OrderDetail:
    """The order with its items, ship-to, packages and tracking, and its whole history (oldest first)."""
    order = orders.get(check_order_id(amazon_order_id))
    if order is None:
        raise OrderNotFound(f"the channel has no order {amazon_order_id}")
    commerce = order.commerce
    return OrderDetail(
        order=summarize(order),
        seller_id=order.seller_id,
        amazon_status=order.amazon_status.value,
        items=_item_details(order),
        ship_to=order.details.ship_to if order.details else None,
        packages=_package_details(order),
        commerce_order=CommerceOrderDetail(
            order_id=commerce.order_id,
            increment_id=commerce.increment_id,
            status=commerce.status,
            customer_is_guest=commerce.customer_is_guest,
        )
        if commerce
        else None,
        history=sorted(orders.history(amazon_order_id), key=lambda e: e.at),
    )


def _item_details(order: ChannelOrder) -> list[OrderItemDetail]:
    """Amazon's items with what shipped of each; only the channel's lines when the details are not read yet."""
    lines = {ln.order_item_id: ln for ln in order.lines}
    if order.details is None:
        return [
            OrderItemDetail(
                order_item_id=ln.order_item_id,
                sku=ln.sku,
                qty=ln.qty,
                qty_shipped=ln.qty_shipped,
                buyer_requested_cancel=ln.buyer_requested_cancel,
            )
            for ln in order.lines
        ]
    return [
        OrderItemDetail(
            order_item_id=i.order_item_id,
            sku=i.sku,
            title=i.title,
            qty=i.qty,
            qty_shipped=ln.qty_shipped if ln else 0,
            unit_price=i.unit_price,
            line_tax=i.line_tax,
            shipping_price=i.shipping_price,
            shipping_tax=i.shipping_tax,
            buyer_requested_cancel=ln.buyer_requested_cancel if ln else False,
        )
        for i in order.details.items
        for ln in [lines.get(i.order_item_id)]
    ]


def _package_details(order: ChannelOrder) -> list[PackageDetail]:
    """The merchant's packages, and for an order Amazon fulfilled, Amazon's packages too."""
    skus = {ln.order_item_id: ln.sku for ln in order.lines}
    for i in order.details.items if order.details else []:
        skus.setdefault(i.order_item_id, i.sku)
    packages = [
        PackageDetail(
            shipped_by="merchant",
            carrier=s.carrier,
            tracking_number=s.tracking_number,
            package_reference_id=s.package_reference_id,
            commerce_shipment_id=s.commerce_shipment_id,
            confirmed_to_amazon_at=s.confirmed_at,
            items=[PackageItem(order_item_id=oi, sku=skus.get(oi), qty=qty) for oi, qty in s.lines],
        )
        for s in order.shipments
    ]
    if order.details is None or order.fulfillment != "AFN":
        return packages
    merchant_refs = {s.package_reference_id for s in order.shipments}
    return packages + [
        PackageDetail(
            shipped_by="amazon",
            carrier=p.carrier,
            tracking_number=p.tracking_number,
            package_reference_id=p.package_reference_id,
            items=[PackageItem(order_item_id=oi, sku=skus.get(oi), qty=qty) for oi, qty in p.items],
        )
        for p in order.details.packages
        if p.package_reference_id not in merchant_refs
    ]
