"""The shapes of what arrives at the handlers, as pydantic models the Powertools parser checks.

- `OrderChangeNotification`: Amazon's `ORDER_CHANGE` (schema OrderChangeNotification.json, v1.0).
- `CommerceShipmentSaved`, `CommerceOrderCanceled`: Adobe Commerce events as Adobe I/O Events
  delivers them to EventBridge (envelope included).
- `ChannelOrderEvent`: the channel's own events on its bus (e.g. `FbaOrderShipped`).
- `WorkflowState`: the merchant-fulfilled workflow's state, passed to every task.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, ClassVar, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from .domain import commerce_events
from .domain.clock import normalize
from .domain.errors import InvalidNotification
from .domain.models import AmazonStatus, OrderChange, OrderLine

MAX_NOTIFICATION_BYTES = 256 * 1024  # far above any real ORDER_CHANGE; larger is not from Amazon


class _Open(BaseModel):
    model_config = ConfigDict(extra="ignore", defer_build=True)  # built on first use, as domain.models


class NotificationItem(_Open):
    OrderItemId: str
    SellerSKU: str
    Quantity: int = Field(ge=0)
    OrderItemStatus: str | None = None
    QuantityShipped: int | None = Field(default=None, ge=0)  # Amazon may leave it out (see shipped)
    IsBuyerRequestedCancel: bool = False

    def shipped(self, order_status: AmazonStatus) -> int:
        """Units shipped. Without `QuantityShipped`, an item of a Shipped order (or one marked
        Shipped) has shipped in full, any other none yet."""
        if self.QuantityShipped is not None:
            return self.QuantityShipped
        return self.Quantity if order_status == AmazonStatus.SHIPPED or self.OrderItemStatus == "Shipped" else 0


def _date_time(v: str | None) -> str | None:
    """An RFC 3339 date-time with its zone (the models' `date-time`), in the channel's canonical form.

    A time without a zone is refused rather than guessed: Amazon always sends one."""
    if v is None:
        return None
    try:
        parsed = datetime.fromisoformat(v.replace("Z", "+00:00"))
    except (ValueError, AttributeError):
        raise ValueError(f"not a date-time: {v!r}") from None
    if parsed.tzinfo is None:
        raise ValueError(f"a date-time without a time zone: {v!r}")
    return normalize(v)


class NotificationSummary(_Open):
    MarketplaceId: str = Field(min_length=1)
    OrderStatus: AmazonStatus
    PurchaseDate: str | None = None
    FulfillmentType: Literal["AFN", "MFN"]
    OrderItems: list[NotificationItem]

    _purchase_date = field_validator("PurchaseDate")(_date_time)


class NotificationTrigger(_Open):
    TimeOfOrderChange: str | None = None
    ChangeReason: str

    _changed = field_validator("TimeOfOrderChange")(_date_time)


class OrderChangePayloadBody(_Open):
    NotificationLevel: Literal["OrderItemLevel", "OrderLevel"]
    SellerId: str = Field(min_length=1)
    AmazonOrderId: str = Field(pattern=r"^\d{3}-\d{7}-\d{7}$")
    OrderChangeType: Literal["BuyerRequestedChange", "DeliveryTipChange", "OrderStatusChange"]
    OrderChangeTrigger: NotificationTrigger
    Summary: NotificationSummary


class OrderChangePayload(_Open):
    OrderChangeNotification: OrderChangePayloadBody


class NotificationMetadata(_Open):
    ApplicationId: str
    SubscriptionId: str
    PublishTime: str
    NotificationId: str = Field(min_length=1)


class OrderChangeNotification(_Open):
    NotificationVersion: Literal["1.0"]
    NotificationType: Literal["ORDER_CHANGE"]
    PayloadVersion: Literal["1.0"]
    EventTime: str
    Payload: OrderChangePayload
    NotificationMetadata: NotificationMetadata

    _time = field_validator("EventTime")(_date_time)

    def to_order_change(self, source: str = "notification") -> OrderChange:
        body = self.Payload.OrderChangeNotification
        changed = body.OrderChangeTrigger.TimeOfOrderChange
        return OrderChange(
            amazon_order_id=body.AmazonOrderId,
            seller_id=body.SellerId,
            marketplace_id=body.Summary.MarketplaceId,
            status=body.Summary.OrderStatus,
            fulfillment=body.Summary.FulfillmentType,
            changed_at=changed or self.EventTime,
            purchase_date=body.Summary.PurchaseDate,
            lines=[
                OrderLine(
                    order_item_id=i.OrderItemId,
                    sku=i.SellerSKU,
                    qty=i.Quantity,
                    qty_shipped=i.shipped(body.Summary.OrderStatus),
                    buyer_requested_cancel=i.IsBuyerRequestedCancel,
                )
                for i in body.Summary.OrderItems
            ],
            source=source,
            notification_id=self.NotificationMetadata.NotificationId,
        )


def parse_notification(body: str) -> OrderChangeNotification:
    """Parse an SQS message body as `ORDER_CHANGE`, or raise `InvalidNotification` saying why."""
    if len(body.encode()) > MAX_NOTIFICATION_BYTES:
        raise InvalidNotification(f"oversized payload: {len(body.encode())} bytes")
    try:
        return OrderChangeNotification.model_validate_json(body)
    except ValidationError as e:
        first = e.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "body"
        kind = first["type"]
        if kind == "json_invalid":
            raise InvalidNotification(f"malformed JSON: {first['msg']}") from None
        if where in ("NotificationType", "NotificationVersion", "PayloadVersion"):
            raise InvalidNotification(f"unsupported notification {where}: {first.get('input')!r}", where) from None
        if where.endswith("OrderStatus"):
            raise InvalidNotification(f"unknown order status {first.get('input')!r}", where) from None
        if kind == "missing":
            raise InvalidNotification(f"missing field {where}", where) from None
        problem = first["msg"].removeprefix("Value error, ")
        raise InvalidNotification(f"invalid field {where}: {problem}", where) from None
    except ValueError as e:
        raise InvalidNotification(f"invalid notification: {e}") from None


class CommerceEvent(_Open):
    """An Adobe Commerce event in the EventBridge envelope Adobe I/O Events delivers it in.

    `detail-type` is `<provider label>:<event code>`; the Commerce payload is wherever `detail`
    carries it (see `domain.commerce_events`). Only ids are read: the handler re-reads the rest.
    """

    CODES: ClassVar[tuple[str, ...]] = ()

    id: str
    source: str
    detail_type: str = Field(alias="detail-type")
    time: str | None = None
    detail: Any

    @property
    def code(self) -> str:
        return commerce_events.event_code(self.detail_type)

    @property
    def payload(self) -> dict[str, Any]:
        return commerce_events.payload(self.detail)

    def _id(self, field: str) -> int:
        if field not in self.payload:
            raise commerce_events.InvalidCommerceEvent(
                f"{self.code} without {field}: select {field} in the event registration"
            )
        return commerce_events.commerce_id(self.payload[field], field)

    @classmethod
    def parse(cls, envelope: Any) -> Self:
        """Parse an EventBridge event (Powertools Parser); anything unusable raises `InvalidCommerceEvent`."""
        from aws_lambda_powertools.utilities.parser import parse

        try:
            event = parse(event=envelope, model=cls)
        except ValidationError as e:
            first = e.errors()[0]
            where = ".".join(str(p) for p in first["loc"]) or "event"
            raise commerce_events.InvalidCommerceEvent(f"not an EventBridge event: {where}: {first['msg']}") from None
        if not event.source.startswith(commerce_events.EVENT_SOURCE_PREFIX):
            raise commerce_events.InvalidCommerceEvent(f"source {event.source!r} is not Adobe I/O Events")
        if event.code not in cls.CODES:
            raise commerce_events.InvalidCommerceEvent(
                f"event code {event.code!r} (detail-type {event.detail_type!r}) is not one of {', '.join(cls.CODES)}"
            )
        event.payload  # noqa: B018 - raises when detail carries no payload
        return event


class CommerceShipmentSaved(CommerceEvent):
    """`com.adobe.commerce.observer.sales_order_shipment_save_after`: the shipment and its order."""

    CODES: ClassVar[tuple[str, ...]] = (commerce_events.SHIPMENT_SAVED,)

    @property
    def shipment_id(self) -> int:
        return self._id("entity_id")

    @property
    def commerce_order_id(self) -> int:
        return self._id("order_id")


class CommerceOrderCanceled(CommerceEvent):
    """The merchant withdrew a Commerce order: `order_cancel_after` (Cancel, while something is left
    to invoice; `entity_id` is the order) or `sales_order_creditmemo_save_after` (a credit memo, how
    Magento withdraws an invoiced order; `order_id` is the order)."""

    CODES: ClassVar[tuple[str, ...]] = (commerce_events.ORDER_CANCELED, commerce_events.CREDIT_MEMO_SAVED)

    @property
    def commerce_order_id(self) -> int:
        return self._id("order_id" if self.code == commerce_events.CREDIT_MEMO_SAVED else "entity_id")


class ChannelOrderEvent(_Open):
    amazon_order_id: str
    seller_id: str
    marketplace_id: str


class WorkflowState(_Open):
    """The MFN workflow's state. Tasks read the order id and return additions to the state."""

    model_config = ConfigDict(extra="allow")
    amazon_order_id: str
    seller_id: str
    marketplace_id: str
    customer_id: int | None = None


class AwaitShipmentsInput(_Open):
    order: WorkflowState
    task_token: str = Field(min_length=1)


class WorkflowError(_Open):
    Error: str = "Unknown"
    Cause: str | None = ""  # moto's SendTaskFailure passes no cause


class OrderSyncRequest(_Open):
    """What starts the order sync function: EventBridge Scheduler's fixed input (`schedule`), the
    local `poll` verb, an operator's `retry` of one blocked order (`amazon-channel retry`, or
    `aws lambda invoke` with `{"trigger": "retry", "amazon_order_id": "..."}`), or a store's
    `continue` (a delayed message of a run the searchOrders quota cut short, once it has a page)."""

    trigger: Literal["schedule", "poll", "retry", "continue"] = "schedule"
    amazon_order_id: str | None = Field(default=None, pattern=r"^\d{3}-\d{7}-\d{7}$")
    seller_id: str | None = Field(default=None, min_length=1)  # only this store

    def model_post_init(self, _context: Any) -> None:
        if self.trigger == "retry" and not self.amazon_order_id:
            raise ValueError("a retry names the order: amazon_order_id is missing")
