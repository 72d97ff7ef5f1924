"""The handlers' bookkeeping of what they received: notifications kept per order, and replayed
EventBridge events recognised, logged as such and receipted for `amazon-channel replay`.

An EventBridge replay delivers archived events again with a `replay-name` field. The handlers
treat them like any other delivery (every step is idempotent: nothing happens twice), and also:
log "Replayed event handled" with the replay's name and the outcome, and write a receipt, which
is how `amazon-channel replay` counts what it replayed. Replayed events are not kept as notifications
messages again (the archive has them).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from . import runtime
from .domain.clock import now_iso
from .domain.models import OrderChange
from .domain.notifications import commerce_event_received, notification_received

if TYPE_CHECKING:
    from .adapters.dynamodb_notifications import DynamoDbNotifications


def _log() -> DynamoDbNotifications:
    from .adapters.dynamodb_notifications import DynamoDbNotifications

    return DynamoDbNotifications(runtime.setting("ORDERS_TABLE"), runtime.client("dynamodb"))


def keep_notification(change: OrderChange, body: str, received_at: str) -> None:
    """Keep an applied ORDER_CHANGE notification as received, beside its order."""
    _log().keep(change.amazon_order_id, notification_received(change, body, received_at))


def keep_commerce_event(amazon_order_id: str, envelope: dict[str, Any], received_at: str) -> None:
    """Keep a Commerce shipment event (its ids and times) beside the channel order it concerns."""
    _log().keep(amazon_order_id, commerce_event_received(envelope, received_at))


def replay_name(envelope: object) -> str | None:
    """The replay an EventBridge event comes from, or None for a first delivery."""
    if not isinstance(envelope, dict):
        return None
    name = envelope.get("replay-name")
    return str(name) if name else None


def note_replay(envelope: Any, handler: str, result: str, amazon_order_id: str | None = None) -> str | None:
    """If `envelope` is a replayed event: log it as such and write its receipt. Returns the replay name.

    A receipt that cannot be written is logged and skipped: bookkeeping never fails the event.
    """
    name = replay_name(envelope)
    if name is None:
        return None
    detail_type = envelope.get("detail-type")
    runtime.logger.info(
        "Replayed event handled",
        extra={
            "replay": name,
            "handler": handler,
            "detail_type": detail_type,
            "result": result,
            "amazon_order_id": amazon_order_id,
        },
    )
    try:
        _log().record_replayed(
            name,
            handler=handler,
            event_id=str(envelope.get("id") or "unknown"),
            detail_type=detail_type,
            result=result,
            amazon_order_id=amazon_order_id,
            at=now_iso(),
        )
    except Exception as e:  # noqa: BLE001 - a receipt is bookkeeping only
        runtime.logger.warning("Replay receipt not written", extra={"replay": name, "error": type(e).__name__})
    return name
