"""Events to subscribers (the ERP) at least once: an outbox on the order.

An event is put in the order's `outbox` by the same conditional write as the change it announces
(the Commerce order recorded, ...), so the change is never saved without its event. It is then
sent to the channel's bus; only once EventBridge has taken it (no failed entry) is it taken out of
the outbox. Whatever fails in between (the put, a failed entry, the answer, the removal, the
invocation itself), the handler's retry finds the event still in the outbox and sends it again,
even when the change itself is already done ("already imported"). A subscriber may therefore
receive an event twice; each carries a stable `event_id` to drop repeats by.
"""

from __future__ import annotations

from .channel_events import ChannelEvent
from .clock import now_iso
from .models import ChannelOrder, HistoryEntry, OutboundEvent
from .orders import entry, mutate
from .ports import EventPublisher, OrderStore


def event_id(detail_type: str, amazon_order_id: str) -> str:
    """The id subscribers deduplicate by; the MFN workflow's announcements use the same form."""
    return f"{detail_type}:{amazon_order_id}"


def add(order: ChannelOrder, event: ChannelEvent) -> None:
    """Put an event in the order's outbox (call inside the `mutate` change that it announces)."""
    eid = event_id(event.detail_type, order.amazon_order_id)
    if any(e.event_id == eid for e in order.outbox):
        return
    detail = {**event.detail(), "event_id": eid}
    order.outbox.append(
        OutboundEvent(event_id=eid, detail_type=event.detail_type, detail=detail, recorded_at=now_iso())
    )


def deliver(orders: OrderStore, events: EventPublisher, order: ChannelOrder) -> int:
    """Send the order's pending events, oldest first, and take each out once EventBridge has it.

    Raises what the publisher raises (e.g. `EventsNotDelivered`): the caller's retry sends the
    rest, and again any event whose delivery was not recorded. Returns how many were sent.
    """
    sent = 0
    for event in list(order.outbox):
        events.publish(event.detail_type, event.detail)
        sent += 1

        def delivered(
            o: ChannelOrder, eid: str = event.event_id, detail_type: str = event.detail_type
        ) -> list[HistoryEntry] | None:
            if not any(e.event_id == eid for e in o.outbox):
                return None
            o.outbox = [e for e in o.outbox if e.event_id != eid]
            return [entry("event", f"{detail_type} delivered to the channel's event bus", event_id=eid)]

        mutate(orders, order.amazon_order_id, delivered)
    return sent
