"""An SP-API order, parsed once: Orders API v2026-01-01 `Order` (getOrder's `order`, each of
searchOrders' `orders`) as pydantic models that follow Amazon's model
(local/amazon_channel_local/sp_api_models/orders_2026-01-01.json), and its mapping to the domain's
`AmazonOrder`.

The models carry Amazon's names (camelCase aliases of the fields) and Amazon's `required` lists;
they declare only the properties the channel reads and keep the others as they came
(`extra="allow"`). An order that does not fit the model is refused as `AmazonRejected`, naming the
property, not read half-way.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Literal

from pydantic import BaseModel, ConfigDict, ValidationError
from pydantic.alias_generators import to_camel

from ..domain.errors import AmazonRejected
from ..domain.models import Address, AmazonOrder, AmazonOrderItem, AmazonPackage, AmazonStatus


class _AmazonModel(BaseModel):
    # Built when the first order is parsed, not when a handler is imported (cold start).
    # Parsed only with `model_validate` from Amazon's camelCase JSON, never built by field name: the
    # generated aliases are the only names, so the plugin's required-dynamic-alias warning does not apply.
    model_config = ConfigDict(  # type: ignore[pydantic-alias]
        alias_generator=to_camel, extra="allow", frozen=True, defer_build=True
    )


class Money(_AmazonModel):
    amount: Decimal
    currency_code: str


class SalesChannel(_AmazonModel):
    channel_name: str
    marketplace_id: str | None = None


class Buyer(_AmazonModel):
    buyer_name: str | None = None
    buyer_email: str | None = None


class CustomerAddress(_AmazonModel):
    name: str | None = None
    company_name: str | None = None
    address_line1: str | None = None
    address_line2: str | None = None
    address_line3: str | None = None
    city: str | None = None
    district_or_county: str | None = None
    state_or_region: str | None = None
    municipality: str | None = None
    postal_code: str | None = None
    country_code: str | None = None
    phone: str | None = None


class Recipient(_AmazonModel):
    delivery_address: CustomerAddress | None = None


class OrderProceedsBreakdown(_AmazonModel):
    type: str
    subtotal: Money


class OrderProceeds(_AmazonModel):
    grand_total: Money | None = None
    breakdowns: list[OrderProceedsBreakdown] = []


FulfillmentStatus = Literal[
    "PENDING_AVAILABILITY", "PENDING", "UNSHIPPED", "PARTIALLY_SHIPPED", "SHIPPED", "CANCELLED", "UNFULFILLABLE"
]


class OrderFulfillment(_AmazonModel):
    fulfillment_status: FulfillmentStatus
    fulfilled_by: str | None = None


class ItemPrice(_AmazonModel):
    unit_price: Money | None = None


class ItemProduct(_AmazonModel):
    title: str | None = None
    seller_sku: str | None = None
    price: ItemPrice | None = None


class ItemProceedsDetailedBreakdown(_AmazonModel):
    subtype: str | None = None
    value: Money | None = None


class ItemProceedsBreakdown(_AmazonModel):
    type: str
    subtotal: Money
    detailed_breakdowns: list[ItemProceedsDetailedBreakdown] = []


class ItemProceeds(_AmazonModel):
    proceeds_total: Money | None = None
    breakdowns: list[ItemProceedsBreakdown] = []


class ItemCancellationRequest(_AmazonModel):
    requester: str | None = None


class ItemCancellation(_AmazonModel):
    cancellation_request: ItemCancellationRequest | None = None


class ItemFulfillment(_AmazonModel):
    quantity_fulfilled: int | None = None


class OrderItem(_AmazonModel):
    order_item_id: str
    quantity_ordered: int
    product: ItemProduct
    proceeds: ItemProceeds | None = None
    cancellation: ItemCancellation | None = None
    fulfillment: ItemFulfillment | None = None


class PackageItem(_AmazonModel):
    order_item_id: str
    quantity: int


class OrderPackage(_AmazonModel):
    package_reference_id: str
    carrier: str | None = None
    tracking_number: str | None = None
    package_items: list[PackageItem] = []


class Order(_AmazonModel):
    order_id: str
    created_time: str
    last_updated_time: str
    sales_channel: SalesChannel
    buyer: Buyer | None = None
    recipient: Recipient | None = None
    proceeds: OrderProceeds | None = None
    fulfillment: OrderFulfillment | None = None
    order_items: list[OrderItem]
    packages: list[OrderPackage] = []


STATUS = {
    "PENDING": AmazonStatus.PENDING,
    "PENDING_AVAILABILITY": AmazonStatus.PENDING_AVAILABILITY,
    "UNSHIPPED": AmazonStatus.UNSHIPPED,
    "PARTIALLY_SHIPPED": AmazonStatus.PARTIALLY_SHIPPED,
    "SHIPPED": AmazonStatus.SHIPPED,
    "CANCELLED": AmazonStatus.CANCELED,
    "UNFULFILLABLE": AmazonStatus.UNFULFILLABLE,
}
FULFILLED_BY = {"MERCHANT": "MFN", "AMAZON": "AFN"}
# domain Address field -> v2026-01-01 CustomerAddress field (an empty string counts as absent)
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


def parse_order(data: object) -> Order:
    """Amazon's `Order` JSON as an `Order`, or `AmazonRejected` naming what does not fit the model."""
    try:
        return Order.model_validate(data)
    except ValidationError as e:
        first = e.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        order_id = data.get("orderId") if isinstance(data, dict) else None
        raise AmazonRejected(
            f"order {order_id}: not an Orders v2026-01-01 Order: {where}: {first['msg']}"
            f" ({e.error_count()} problem{'s' if e.error_count() > 1 else ''})"
        ) from None


def _amount(money: Money | None) -> Decimal | None:
    return None if money is None else money.amount


# Where Amazon's proceeds categories go. The model (ItemProceedsBreakdown) names ITEM, SHIPPING,
# GIFT_WRAP, COD_FEE, OTHER, TAX and DISCOUNT; detailedBreakdowns (TAX and DISCOUNT only) say
# which of them a tax or discount is on. A category the model does not name is kept as OTHER.
_CHARGES = {
    "ITEM": "line_price",
    "SHIPPING": "shipping_price",
    "GIFT_WRAP": "gift_wrap_price",
    "COD_FEE": "cod_fee",
    "OTHER": "other_charges",
}
_CHARGE_TAX = {"SHIPPING": "shipping_tax", "GIFT_WRAP": "gift_wrap_tax", "COD_FEE": "cod_fee_tax", "OTHER": "other_tax"}
_ZERO = Decimal("0")


def _add(out: dict[str, Decimal], field: str, amount: Decimal) -> None:
    out[field] = out.get(field, _ZERO) + amount


def _item_money(item: OrderItem) -> dict[str, Decimal]:
    """An item's proceeds by category, as `AmazonOrderItem` fields.

    TAX: each detail on shipping, gift wrap, COD fee or other charges goes with that charge; the
    rest (detail ITEM or DISCOUNT, or no detail at all, as in Amazon's getOrder example) is the
    item's tax. DISCOUNT: the model gives no sign; the breakdowns add up to proceedsTotal, so a
    discount arrives negative, and either sign is read as money off. Detail SHIPPING, GIFT_WRAP,
    COD_FEE or OTHER is off those charges, the rest off the item.
    """
    proceeds = item.proceeds or ItemProceeds()
    out: dict[str, Decimal] = {}
    tax = discount = _ZERO
    for b in proceeds.breakdowns:
        details = [(d.subtype, _amount(d.value) or _ZERO) for d in b.detailed_breakdowns]
        if b.type == "TAX":
            tax += b.subtotal.amount
            for subtype, value in details:
                if subtype in _CHARGE_TAX:
                    _add(out, _CHARGE_TAX[subtype], value)
                    tax -= value
        elif b.type == "DISCOUNT":
            discount += abs(b.subtotal.amount)
            for subtype, value in details:
                if subtype in _CHARGES and subtype != "ITEM":
                    _add(out, "shipping_discount", abs(value))
                    discount -= abs(value)
        else:
            _add(out, _CHARGES.get(b.type, "other_charges"), b.subtotal.amount)
    out["line_tax"] = tax
    out["discount"] = discount
    if proceeds.proceeds_total is not None:
        out["proceeds_total"] = proceeds.proceeds_total.amount
    return out


def _item(it: OrderItem) -> AmazonOrderItem:
    price = it.product.price
    cancel = it.cancellation.cancellation_request if it.cancellation else None
    return AmazonOrderItem(
        order_item_id=it.order_item_id,
        sku=it.product.seller_sku or "",
        title=it.product.title,
        qty=it.quantity_ordered,
        unit_price=_amount(price.unit_price if price else None) or _ZERO,
        **_item_money(it),
        qty_shipped=(it.fulfillment.quantity_fulfilled if it.fulfillment else None) or 0,
        buyer_requested_cancel=cancel is not None and cancel.requester == "BUYER",
    )


def _ship_to(order: Order) -> Address | None:
    addr = order.recipient.delivery_address if order.recipient else None
    if addr is None:
        return None
    fields = addr.model_dump(by_alias=True)
    return Address(**{ours: fields.get(theirs) or None for ours, theirs in ADDRESS_FIELDS.items()})


def _currency(order: Order) -> str:
    for it in order.order_items:
        price = it.product.price
        if price and price.unit_price:
            return price.unit_price.currency_code
    grand = order.proceeds.grand_total if order.proceeds else None
    return grand.currency_code if grand else "USD"


def to_amazon_order(data: object, request_id: str | None = None) -> AmazonOrder:
    """Parse Amazon's `Order` JSON and map it to the domain's `AmazonOrder`."""
    order = parse_order(data)
    if order.fulfillment is None:
        raise AmazonRejected(f"order {order.order_id}: no fulfillment (getOrder includedData FULFILLMENT)")
    proceeds = order.proceeds or OrderProceeds()
    buyer = order.buyer or Buyer()
    return AmazonOrder(
        amazon_order_id=order.order_id,
        marketplace_id=order.sales_channel.marketplace_id or "",
        fulfillment=FULFILLED_BY.get(order.fulfillment.fulfilled_by or "MERCHANT", "MFN"),  # type: ignore[arg-type]
        status=STATUS[order.fulfillment.fulfillment_status],
        purchase_date=order.created_time,
        last_updated=order.last_updated_time,
        currency=_currency(order),
        buyer_name=buyer.buyer_name,
        buyer_email=buyer.buyer_email,
        ship_to=_ship_to(order),
        items=[_item(it) for it in order.order_items],
        packages=[
            AmazonPackage(
                package_reference_id=p.package_reference_id,
                carrier=p.carrier,
                tracking_number=p.tracking_number,
                items=[(pi.order_item_id, pi.quantity) for pi in p.package_items],
            )
            for p in order.packages
        ],
        request_id=request_id,
        order_total=_amount(proceeds.grand_total),
        delivery_tip=sum((b.subtotal.amount for b in proceeds.breakdowns if b.type == "DELIVERY_TIP"), _ZERO),
    )
