"""The merchant's orders as the channel sees them: Amazon orders, channel orders, Commerce orders.

Money is `Decimal`, serialised as a string with two places. Timestamps are ISO-8601 UTC strings
(`2026-11-26T10:00:00Z`), which sort in time order as text.
"""

from __future__ import annotations

from decimal import Decimal
from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_serializer


class ChannelStatus(StrEnum):
    """The status the sales channel holds for an Amazon order (the Orders view's Status column)."""

    PENDING = "Pending"
    UNSHIPPED = "Unshipped"
    PARTIALLY_SHIPPED = "PartiallyShipped"
    SHIPPED = "Shipped"
    CANCELED = "Canceled"
    ERROR = "Error"


class AmazonStatus(StrEnum):
    """Amazon's order status, as `ORDER_CHANGE` names it."""

    PENDING = "Pending"
    PENDING_AVAILABILITY = "PendingAvailability"
    UNSHIPPED = "Unshipped"
    PARTIALLY_SHIPPED = "PartiallyShipped"
    SHIPPED = "Shipped"
    CANCELED = "Canceled"
    UNFULFILLABLE = "Unfulfillable"
    INVOICE_UNCONFIRMED = "InvoiceUnconfirmed"


Fulfillment = Literal["MFN", "AFN"]


class Model(BaseModel):
    # Each model's validator is built on first use, not at import: a handler pays only for the
    # models it touches (cold start; see the README's figures).
    model_config = ConfigDict(extra="forbid", frozen=False, defer_build=True)


class Money(Model):
    amount: Decimal
    currency: str = "USD"

    @field_serializer("amount")
    def _amount(self, v: Decimal) -> str:
        return f"{v:.2f}"


class StoreSettings(Model):
    """The four order settings of the Adobe extension that the channel honours, per store."""

    import_orders: bool = True
    customer_creation: Literal["guest", "create"] = "guest"
    order_number_source: Literal["commerce", "amazon"] = "commerce"
    import_fba_orders: bool = True


class StoreConfig(Model):
    """One connected Amazon store: a seller account, its marketplaces and its Commerce target."""

    seller_id: str
    marketplace_ids: list[str]
    settings: StoreSettings = Field(default_factory=StoreSettings)
    commerce_website_id: int = 1
    commerce_store_id: int = 1
    connected_at: str = "1970-01-01T00:00:00Z"


class Address(Model):
    """A delivery address as Amazon gives it (v2026-01-01 `CustomerAddress`)."""

    name: str | None = None
    company: str | None = None  # companyName
    line1: str | None = None
    line2: str | None = None
    line3: str | None = None
    city: str | None = None
    district: str | None = None  # districtOrCounty
    region: str | None = None  # stateOrRegion
    municipality: str | None = None
    postcode: str | None = None
    country: str | None = None
    phone: str | None = None  # suppressed by Amazon on every FBA order

    def street_lines(self) -> list[str]:
        """The street as two lines, which every Commerce store accepts (Magento's default street
        has two lines): line 1, then line 2, line 3, the district and the municipality, joined
        by commas. Nothing Amazon gives is dropped; a part that repeats the city is left out."""
        rest = [p for p in (self.line2, self.line3, self.district, self.municipality) if p and p.strip()]
        rest = [p.strip() for p in rest if p.strip().casefold() != (self.city or "").strip().casefold()]
        lines = [p.strip() for p in (self.line1,) if p and p.strip()] + list(dict.fromkeys(rest))
        if len(lines) <= 2:
            return lines
        return [lines[0], ", ".join(lines[1:])]


class AmazonOrderItem(Model):
    """One order item and Amazon's proceeds for it, by category (`ItemProceedsBreakdown.type`).

    Discounts are money off, as positive amounts; every other amount is as Amazon gives it.
    """

    order_item_id: str
    sku: str
    title: str | None = None
    qty: int
    unit_price: Decimal
    line_tax: Decimal = Decimal("0")
    shipping_price: Decimal = Decimal("0")
    shipping_tax: Decimal = Decimal("0")
    qty_shipped: int = 0  # includedData=FULFILLMENT quantityFulfilled
    buyer_requested_cancel: bool = False  # a cancellation request whose requester is BUYER
    line_price: Decimal | None = None  # ITEM: the whole line as charged (None: unit price x qty)
    discount: Decimal = Decimal("0")  # DISCOUNT on the item itself
    shipping_discount: Decimal = Decimal("0")  # DISCOUNT on shipping, gift wrap, COD fee or other charges
    gift_wrap_price: Decimal = Decimal("0")  # GIFT_WRAP
    gift_wrap_tax: Decimal = Decimal("0")
    cod_fee: Decimal = Decimal("0")  # COD_FEE: cash on delivery
    cod_fee_tax: Decimal = Decimal("0")
    other_charges: Decimal = Decimal("0")  # OTHER
    other_tax: Decimal = Decimal("0")
    proceeds_total: Decimal | None = None  # Amazon's proceedsTotal for the item, when given

    @property
    def row_price(self) -> Decimal:
        return self.unit_price * self.qty if self.line_price is None else self.line_price

    @property
    def total(self) -> Decimal:
        """What the buyer paid for this item, every category added up."""
        return (
            self.row_price
            + self.line_tax
            - self.discount
            + self.shipping_price
            + self.shipping_tax
            + self.gift_wrap_price
            + self.gift_wrap_tax
            + self.cod_fee
            + self.cod_fee_tax
            + self.other_charges
            + self.other_tax
            - self.shipping_discount
        )


class AmazonPackage(Model):
    """A package on Amazon's side, from `getOrder` includedData=PACKAGES (FBA, or confirmed MFN)."""

    package_reference_id: str | None = None
    carrier: str | None = None
    tracking_number: str | None = None
    items: list[tuple[str, int]] = Field(default_factory=list)  # (order_item_id, qty)


class AmazonOrder(Model):
    """The full order as `getOrder` (v2026-01-01) returns it, reduced to what the channel uses."""

    amazon_order_id: str
    marketplace_id: str
    fulfillment: Fulfillment
    status: AmazonStatus
    purchase_date: str
    last_updated: str
    currency: str = "USD"
    buyer_name: str | None = None
    buyer_email: str | None = None
    ship_to: Address | None = None
    items: list[AmazonOrderItem]
    packages: list[AmazonPackage] = Field(default_factory=list)
    request_id: str | None = None
    order_total: Decimal | None = None  # Amazon's proceeds grandTotal, when given
    delivery_tip: Decimal = Decimal("0")  # DELIVERY_TIP: charged on the order, not on an item

    @property
    def total(self) -> Decimal:
        """The order total as Amazon's breakdowns add up: every item, plus a delivery tip."""
        return sum((i.total for i in self.items), Decimal("0")) + self.delivery_tip


class OrderLine(Model):
    """One line of the channel order, as `ORDER_CHANGE` summarises it."""

    order_item_id: str
    sku: str
    qty: int
    qty_shipped: int = 0
    buyer_requested_cancel: bool = False


class OrderChange(Model):
    """An Amazon-side change of an order, from a notification or from order sync."""

    amazon_order_id: str
    seller_id: str
    marketplace_id: str
    status: AmazonStatus
    fulfillment: Fulfillment
    changed_at: str  # Amazon's own timestamp of the change
    purchase_date: str | None = None
    lines: list[OrderLine] = Field(default_factory=list)
    source: str = "notification"  # notification | sync | replay
    notification_id: str | None = None
    details: AmazonOrder | None = None  # the full order, when the change came with it (order sync)


class CommerceRef(Model):
    """What the channel knows of the Commerce order it created."""

    order_id: int
    increment_id: str
    status: str
    customer_id: int | None = None
    customer_is_guest: bool = True
    customer_email: str | None = None


class ShipmentRecord(Model):
    """A Commerce shipment of the order, and whether Amazon has had it confirmed."""

    commerce_shipment_id: int
    carrier: str
    tracking_number: str
    lines: list[tuple[str, int]]  # (order_item_id, qty)
    package_reference_id: str
    confirm_attempted_at: str | None = None  # set before calling Amazon: a retry then checks first
    confirmed_at: str | None = None
    amazon_request_id: str | None = None


class Lease(Model):
    """Who holds one of the order's side effects, until when: creating its Commerce order, or
    confirming its packages to Amazon (one invocation at a time)."""

    owner: str
    until: str


class ChannelOrder(Model):
    """The channel's copy of an Amazon order. Stored with a version for conditional writes."""

    amazon_order_id: str
    seller_id: str
    marketplace_id: str
    fulfillment: Fulfillment
    amazon_status: AmazonStatus
    amazon_status_at: str
    channel_status: ChannelStatus
    purchase_date: str | None = None
    lines: list[OrderLine] = Field(default_factory=list)
    notes: str = ""
    details: AmazonOrder | None = None
    commerce: CommerceRef | None = None
    shipments: list[ShipmentRecord] = Field(default_factory=list)
    task_token: str | None = None
    workflow_started: bool = False
    cancellation: MerchantCancellation | None = None  # the merchant's cancellation from Commerce
    import_attempt: int = 0  # 0 = the first import; each retry of a blocked order adds one
    create_lease: Lease | None = None  # held while its Commerce order is being created
    confirm_lease: Lease | None = None  # held while packages are being confirmed to Amazon
    # Events for the channel's bus not yet delivered, written with the change they announce
    # (`domain.outbox`): delivered once EventBridge has taken them, re-sent on every retry until then.
    outbox: list[OutboundEvent] = Field(default_factory=list)
    ended_at: str | None = None  # when it became Shipped or Canceled (see domain.pii)
    pii_removed_at: str | None = None  # when the buyer's data was removed (retention)
    version: int = 0
    created_at: str = ""
    updated_at: str = ""

    @property
    def to_confirm(self) -> bool:
        """Some Commerce shipment of the order is not yet confirmed to Amazon."""
        return any(not s.confirmed_at for s in self.shipments)

    @property
    def visible(self) -> bool:
        """Pending orders are kept but not shown in the Orders view (seed, MFN step 1)."""
        return self.channel_status != ChannelStatus.PENDING


class OutboundEvent(Model):
    """An event for the channel's bus, kept on its order until EventBridge has taken it."""

    event_id: str  # stable across re-sends (`<DetailType>:<AmazonOrderId>`): subscribers drop repeats by it
    detail_type: str
    detail: dict[str, Any]
    recorded_at: str


class HistoryEntry(Model):
    """One line of an order's append-only history."""

    at: str
    kind: str  # status | step | error | stale | duplicate | sp-api | commerce | ...
    message: str
    data: dict[str, Any] = Field(default_factory=dict[str, Any])
    request_id: str | None = None


class CommerceCustomer(Model):
    id: int | None = None
    email: str
    firstname: str
    lastname: str
    website_id: int = 1
    store_id: int = 1
    request_id: str | None = None  # of the Commerce call that answered (X-Request-Id)


class CommerceOrderLine(Model):
    sku: str
    name: str
    qty: int
    price: Decimal  # Amazon's unit price, not the catalog's
    tax: Decimal  # tax for the whole line
    amazon_order_item_id: str
    row_total: Decimal | None = None  # the line before discount and tax (None: price x qty)
    discount: Decimal = Decimal("0")  # money off the line, positive (Magento's item discount_amount)

    @property
    def row(self) -> Decimal:
        return self.price * self.qty if self.row_total is None else self.row_total


class CommerceOrderDraft(Model):
    """The Commerce order to create, with Amazon's prices, and no emails to the buyer."""

    amazon_order_id: str
    increment_id: str | None = None  # None = Commerce numbering
    store_id: int = 1
    currency: str = "USD"
    customer_id: int | None = None
    customer_is_guest: bool = True
    customer_email: str
    customer_firstname: str
    customer_lastname: str
    billing_address: Address
    shipping_address: Address
    lines: list[CommerceOrderLine]
    shipping_amount: Decimal  # Commerce's "Shipping & Handling": shipping plus the charges below
    shipping_tax: Decimal
    status: str = "processing"
    shipping_discount: Decimal = Decimal("0")  # money off shipping & handling, positive
    discount_description: str | None = None
    # Amazon charges carried in Shipping & Handling besides shipping (gift wrap, COD fee, ...):
    # (label, amount before tax; its tax is in shipping_tax), named in the order's shipping description.
    handling_charges: list[tuple[str, Decimal]] = Field(default_factory=list)
    # MFN: Commerce's salable quantity is lowered for the order; AFN: Amazon's stock shipped it.
    fulfillment: Fulfillment = "MFN"

    @property
    def discount_total(self) -> Decimal:
        return sum((ln.discount for ln in self.lines), Decimal("0")) + self.shipping_discount

    @property
    def grand_total(self) -> Decimal:
        total = sum((ln.row + ln.tax for ln in self.lines), Decimal("0"))
        return total + self.shipping_amount + self.shipping_tax - self.discount_total


class CommerceOrderRef(Model):
    order_id: int
    increment_id: str
    status: str
    amazon_order_id: str | None = None  # the order's ext_order_id
    customer_id: int | None = None
    customer_is_guest: bool = True
    customer_email: str | None = None
    request_id: str | None = None  # of the Commerce call that created or found it (X-Request-Id)
    state: str | None = None  # Magento's order state: new, processing, complete, closed, canceled, holded
    qty_ordered: int = 0
    qty_shipped: int = 0
    qty_withdrawn: int = 0  # canceled, or refunded by a credit memo, without having shipped
    merchant_comment: str | None = None  # the newest order comment the channel did not write
    note: str | None = None  # what the merchant should know, e.g. a status Commerce refused

    @property
    def qty_open(self) -> int:
        """What is left to ship."""
        return max(self.qty_ordered - self.qty_shipped - self.qty_withdrawn, 0)


class CommerceShipment(Model):
    """A shipment of a Commerce order: its tracks and items (by SKU and Commerce order item)."""

    id: int | None = None
    order_id: int
    carrier: str = ""  # "" with no tracking number: a shipment without a track (FBA)
    tracking_number: str = ""
    items: list[tuple[str, int]]  # (sku, qty)
    notify: bool = False
    request_id: str | None = None  # of the Commerce call that read it (X-Request-Id)


class PackageConfirmation(Model):
    """One `confirmShipment` call: one package of one order."""

    amazon_order_id: str
    marketplace_id: str
    package_reference_id: str
    carrier_code: str  # Amazon's CarrierCode; "Other" with carrier_name for the rest
    carrier_name: str | None = None
    tracking_number: str
    ship_date: str
    items: list[tuple[str, int]]  # (order_item_id, qty)


class MerchantCancellation(Model):
    """The merchant canceled the Amazon order's Commerce order: what the channel asks of Amazon.

    `outcome`: pending (to send, or sent and not processed yet), accepted (Amazon processed the
    cancellation feed without error), refused (not sent, or Amazon refused it; `message` says why).
    """

    commerce_order_id: int
    reason: str
    reason_code: str  # the feed's cancellation-reason-code
    requested_at: str
    outcome: Literal["pending", "accepted", "refused"] = "pending"
    message: str = ""
    feed_id: str | None = None
    submit_attempted_at: str | None = None  # written before the feed is sent: a retry checks Amazon first
    polls: int = 0


class OrderCancellation(Model):
    """A seller-initiated cancellation of a whole Amazon order, sent as one cancellation feed."""

    amazon_order_id: str
    marketplace_id: str
    order_item_ids: list[str]
    reason_code: str


class CancellationFeedResult(Model):
    """Where Amazon is with a cancellation feed."""

    feed_id: str
    status: str  # IN_QUEUE | IN_PROGRESS | DONE | CANCELLED | FATAL
    accepted: bool | None = None  # None while Amazon is still processing it
    message: str = ""
