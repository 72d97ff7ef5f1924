"""What arrived from outside, kept as it was received, for debugging one order.

Every ORDER_CHANGE notification the intake applies, and every Commerce shipment event that
concerns a channel order, is kept beside the order (not in its history, which stays a readable
account of what the channel did). `amazon-channel export` writes them out, `trace` shows them,
and `simulate --replay` plays them into a fresh local stack.

What is kept: the notification exactly as Amazon sent it (it carries ids, statuses, SKUs and
quantities, a destination postal code, no names or addresses); of a Commerce event only its ids
and timestamps (the handler re-reads the shipment through REST anyway). Bodies are never logged.
"""

from __future__ import annotations

import json
from typing import Any, Literal

from pydantic import Field

from . import commerce_events
from .models import Model, OrderChange

#: A kept body larger than this is replaced by its size (a real ORDER_CHANGE is 1-3 KB; a DynamoDB
#: item holds 400 KB).
MAX_KEPT_BODY_BYTES = 64 * 1024


class NotificationRecord(Model):
    """One message the channel received about an order."""

    at: str  # when the channel received it
    source: Literal["amazon", "commerce"]
    type: str  # ORDER_CHANGE | com.adobe.commerce.observer.sales_order_shipment_save_after
    id: str | None = None  # Amazon's NotificationId | the event's id
    occurred_at: str | None = None  # the sender's own time of the change
    summary: str = ""  # one line, no personal data: "Unshipped", "shipment 7 of Commerce order 3"
    body: dict[str, Any] | None = None
    body_omitted_bytes: int | None = None  # set instead of body when the body was too large
    data: dict[str, Any] = Field(default_factory=dict)


def notification_received(change: OrderChange, body: str, at: str) -> NotificationRecord:
    """The ORDER_CHANGE notification behind `change`, as received."""
    kept, omitted = _body(body)
    return NotificationRecord(
        at=at,
        source="amazon",
        type="ORDER_CHANGE",
        id=change.notification_id,
        occurred_at=change.changed_at,
        summary=change.status.value,
        body=kept,
        body_omitted_bytes=omitted,
        data={"amazon_status": change.status.value, "fulfillment": change.fulfillment},
    )


def commerce_event_received(envelope: dict[str, Any], at: str) -> NotificationRecord:
    """A Commerce shipment event (as Adobe I/O Events delivers it to EventBridge): ids only.

    The ids are kept as `detail.data.value` wherever the event carried them, so every kept event
    reads the same; the type is the event code of `detail-type` (`<provider label>:<event code>`).
    """
    raw = envelope.get("detail")
    detail = raw if isinstance(raw, dict) else {}
    ids = commerce_events.ids(raw)
    try:
        code = commerce_events.event_code(envelope.get("detail-type"))
    except commerce_events.InvalidCommerceEvent:
        code = str(detail.get("type") or "")
    return NotificationRecord(
        at=at,
        source="commerce",
        type=code,
        id=str(detail.get("id") or envelope.get("id") or "") or None,
        occurred_at=detail.get("time") or envelope.get("time"),
        summary=f"shipment {ids.get('entity_id')} of Commerce order {ids.get('order_id')}",
        body={
            "source": envelope.get("source"),
            "detail-type": envelope.get("detail-type"),
            "detail": {
                "id": detail.get("id"),
                "type": detail.get("type"),
                "source": detail.get("source"),
                "time": detail.get("time"),
                "data": {"value": ids},
            },
        },
        data={"event_bus_event_id": envelope.get("id")},
    )


def _body(body: str) -> tuple[dict[str, Any] | None, int | None]:
    size = len(body.encode())
    if size > MAX_KEPT_BODY_BYTES:
        return None, size
    try:
        parsed = json.loads(body)
    except ValueError:
        return None, size
    return (parsed, None) if isinstance(parsed, dict) else (None, size)
