"""The events the channel publishes on its EventBridge bus (source `amazon-channel`), for the ERP
(and any OMS or WMS) and for the channel itself, as pydantic models: one class per `detail-type`,
its fields the event's `detail`.

Their JSON Schemas are published in events/schemas/ (generated from these models by
`python -m amazon_channel_local.event_schemas`; a test checks that the committed ones are the
generated ones). Events announced by the MFN workflow itself (statemachines/mfn_order.asl.json:
`CommerceOrderCreated`, `OrderShipped`) carry the same fields; a test checks the state machine
against these models.

Delivery is at least once: an event that carries `event_id` (`<detail-type>:<AmazonOrderId>`, the
same on every copy) may arrive twice, and a subscriber drops repeats by it.
"""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field, model_validator

from .ports import EventPublisher

SOURCE = "amazon-channel"


class ChannelEvent(BaseModel):
    """What every channel event's `detail` says: which Amazon order, in which store."""

    # Built when the first event is sent, not when a handler is imported (cold start).
    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)

    detail_type: ClassVar[str]

    amazon_order_id: str = Field(description="Amazon's order id (AmazonOrderId), e.g. 113-1234567-1234567.")
    seller_id: str = Field(description="The Amazon selling partner (the store) the order belongs to.")
    marketplace_id: str = Field(description="The Amazon marketplace of the order, e.g. ATVPDKIKX0DER (amazon.com).")

    def detail(self) -> dict[str, Any]:
        return self.model_dump(mode="json")


class _AtLeastOnce(ChannelEvent):
    event_id: str = Field(
        description="`<detail-type>:<AmazonOrderId>`, the same on every copy of this event: drop repeats by it.",
    )

    @classmethod
    def event_id_of(cls, amazon_order_id: str) -> str:
        return f"{cls.detail_type}:{amazon_order_id}"

    @model_validator(mode="before")
    @classmethod
    def _default_event_id(cls, data: Any) -> Any:
        if isinstance(data, dict) and "event_id" not in data and "amazon_order_id" in data:
            return {**data, "event_id": cls.event_id_of(data["amazon_order_id"])}
        return data


class FbaOrderShipped(ChannelEvent):
    """Amazon shipped an FBA order: the channel's FBA import creates its Commerce order (complete)."""

    detail_type: ClassVar[str] = "FbaOrderShipped"


class CommerceOrderCreated(_AtLeastOnce):
    """The Amazon order is now a Commerce order (MFN: to be shipped by the merchant; FBA: complete)."""

    detail_type: ClassVar[str] = "CommerceOrderCreated"

    commerce_increment_id: str = Field(description="The Commerce order's increment id (its number), e.g. 000000042.")


class ShipmentConfirmedToAmazon(ChannelEvent):
    """One package of an MFN order (a Commerce shipment) was confirmed to Amazon, with its tracking."""

    detail_type: ClassVar[str] = "ShipmentConfirmedToAmazon"

    package_reference_id: str = Field(description="The package's reference sent to Amazon (confirmShipment).")


class OrderShipped(_AtLeastOnce):
    """An MFN order is shipped on Amazon and complete in Commerce: every item was confirmed."""

    detail_type: ClassVar[str] = "OrderShipped"

    commerce_increment_id: str = Field(description="The Commerce order's increment id (its number), e.g. 000000042.")


EVENTS: tuple[type[ChannelEvent], ...] = (
    FbaOrderShipped,
    CommerceOrderCreated,
    ShipmentConfirmedToAmazon,
    OrderShipped,
)


def publish(events: EventPublisher, event: ChannelEvent) -> None:
    """Send one event now (for the outbox's at-least-once delivery, see `outbox.add`)."""
    events.publish(event.detail_type, event.detail())
