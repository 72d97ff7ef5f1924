"""Order intake: apply an Amazon-side change of an order to the channel's copy of it.

Notifications are delivered at least once and in any order, so every change is checked against
Amazon's own timestamp of the last change the channel applied: an older change is recorded in
the history as stale and moves nothing. Effects that follow a change (starting the MFN workflow,
announcing an FBA shipment, waking a waiting workflow) are themselves idempotent.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from . import channel_events, clock
from .cancellations import apply_amazon_cancellation, buyer_cancel_note
from .channel_events import FbaOrderShipped
from .clock import iso, normalize, now_iso
from .errors import InvalidNotification, UnknownStore, VersionConflict
from .models import AmazonStatus, ChannelOrder, ChannelStatus, HistoryEntry, OrderChange
from .orders import details_current, mutate
from .ports import EventPublisher, OrderStore, StoreDirectory, WorkflowStarter

# How far along an Amazon order is. A change never moves an order to a lower rank.
_RANK = {
    AmazonStatus.PENDING: 0,
    AmazonStatus.PENDING_AVAILABILITY: 0,
    AmazonStatus.INVOICE_UNCONFIRMED: 1,
    AmazonStatus.UNSHIPPED: 1,
    AmazonStatus.PARTIALLY_SHIPPED: 2,
    AmazonStatus.SHIPPED: 3,
    AmazonStatus.CANCELED: 3,
    AmazonStatus.UNFULFILLABLE: 3,
}

# Amazon's order lifecycle ends at Shipped or Canceled: a shipped order cannot be canceled, nor a
# canceled one shipped. A later change to another status is noted on the order and ignored.
_FINAL = frozenset({AmazonStatus.SHIPPED, AmazonStatus.CANCELED})

#: How far ahead of the channel's clock an Amazon timestamp may be and still be believed. Five
#: minutes is the clock skew AWS itself tolerates on a signed request (SigV4 refuses one more than
#: 5 minutes off); Lambda hosts and Amazon's notification service keep NTP time, far closer than
#: that, so a change dated further ahead is bad data, not skew.
MAX_CLOCK_SKEW = timedelta(minutes=5)

_CHANNEL_STATUS = {
    AmazonStatus.PENDING: ChannelStatus.PENDING,
    AmazonStatus.PENDING_AVAILABILITY: ChannelStatus.PENDING,
    AmazonStatus.INVOICE_UNCONFIRMED: ChannelStatus.UNSHIPPED,
    AmazonStatus.UNSHIPPED: ChannelStatus.UNSHIPPED,
    AmazonStatus.PARTIALLY_SHIPPED: ChannelStatus.PARTIALLY_SHIPPED,
    AmazonStatus.SHIPPED: ChannelStatus.SHIPPED,
    AmazonStatus.CANCELED: ChannelStatus.CANCELED,
    AmazonStatus.UNFULFILLABLE: ChannelStatus.CANCELED,
}


@dataclass(frozen=True)
class IntakeOutcome:
    """What intake did with one change, for logs, metrics and tests."""

    result: str  # recorded | advanced | stale | duplicate | ignored | before-connection
    channel_status: ChannelStatus | None = None
    workflow_started: bool = False
    fba_import_announced: bool = False


@dataclass
class IntakePorts:
    orders: OrderStore
    stores: StoreDirectory
    workflows: WorkflowStarter
    events: EventPublisher
    # The notification intake reads the order's details before the workflow starts (`order_reads`):
    # an order without them waits for that read, or for the order sync's page.
    details_first: bool = False


def workflow_input(order: ChannelOrder) -> dict[str, Any]:
    return {
        "amazon_order_id": order.amazon_order_id,
        "seller_id": order.seller_id,
        "marketplace_id": order.marketplace_id,
    }


def record_order_change(change: OrderChange, ports: IntakePorts, attempts: int = 5) -> IntakeOutcome:
    """Record `change` in the channel and start what it calls for. Safe to repeat."""
    store = ports.stores.find(change.seller_id, change.marketplace_id)
    if store is None:
        raise UnknownStore(f"seller {change.seller_id} / marketplace {change.marketplace_id} is not a connected store")
    change = _believable(change)
    for _ in range(attempts):
        try:
            return _apply(change, ports, store.connected_at)
        except VersionConflict:
            continue
    raise VersionConflict(f"order {change.amazon_order_id} kept changing; retry later")


def _believable(change: OrderChange, now: datetime | None = None) -> OrderChange:
    """A change dated more than `MAX_CLOCK_SKEW` ahead of the clock is never trusted, or it would
    make every real change (and Amazon's own getOrder) look stale until that date.

    A notification's dates are the sender's claim: it is parked with its reason (`InvalidNotification`).
    The order sync's view is Amazon's order as read now, so its time is taken as now.
    """
    now = now or clock.now()
    limit = iso(now + MAX_CLOCK_SKEW)
    if change.source == "sync":
        if normalize(change.changed_at) > limit:
            return change.model_copy(update={"changed_at": iso(now)})
        return change
    for value, field in (
        (change.changed_at, "Payload.OrderChangeNotification.OrderChangeTrigger.TimeOfOrderChange"),
        (change.purchase_date, "Payload.OrderChangeNotification.Summary.PurchaseDate"),
    ):
        if value and normalize(value) > limit:
            ahead = datetime.fromisoformat(normalize(value).replace("Z", "+00:00")) - now
            raise InvalidNotification(
                f"{field.rsplit('.', 1)[-1]} {value} is {_duration(ahead)} ahead of the channel's clock "
                f"(more than {_duration(MAX_CLOCK_SKEW)}): not trusted over Amazon's order",
                field,
            )
    return change


def _duration(d: timedelta) -> str:
    seconds = int(d.total_seconds())
    if seconds >= 2 * 86400:
        return f"{seconds // 86400} days"
    if seconds >= 2 * 3600:
        return f"{seconds // 3600} hours"
    return f"{seconds // 60} minutes" if seconds >= 120 else f"{seconds} seconds"


def _apply(change: OrderChange, ports: IntakePorts, connected_at: str) -> IntakeOutcome:
    at = now_iso()
    order = ports.orders.get(change.amazon_order_id)
    if order is None:
        return _record_new(change, ports, connected_at, at)
    if change.changed_at < order.amazon_status_at or (_RANK[change.status] < _RANK[order.amazon_status]):
        return _ignore_stale(order, change, ports, at)
    if order.amazon_status in _FINAL and change.status != order.amazon_status:
        return _ignore_after_final(order, change, ports, at)
    if change.status == order.amazon_status:
        return _repeated(order, change, ports, at)
    return _advance(order, change, ports, at)


def _record_new(change: OrderChange, ports: IntakePorts, connected_at: str, at: str) -> IntakeOutcome:
    """An order the channel has not seen: recorded, unless placed before the store was connected
    or an FBA order Amazon has not shipped yet."""
    if change.purchase_date and normalize(change.purchase_date) < normalize(connected_at):
        # Orders placed before the store was connected are never imported (seed, order settings).
        return IntakeOutcome(result="before-connection")
    if change.fulfillment == "AFN" and change.status != AmazonStatus.SHIPPED:
        # FBA orders are imported only once Amazon has shipped them (seed, FBA step 2).
        return IntakeOutcome(result="ignored")
    order = ChannelOrder(
        amazon_order_id=change.amazon_order_id,
        seller_id=change.seller_id,
        marketplace_id=change.marketplace_id,
        fulfillment=change.fulfillment,
        amazon_status=change.status,
        amazon_status_at=change.changed_at,
        channel_status=_CHANNEL_STATUS[change.status],
        purchase_date=change.purchase_date,
        lines=change.lines,
        version=1,
        created_at=at,
        updated_at=at,
    )
    history = [_status_entry(at, change, None, order.channel_status)]
    history += _keep_details(order, change, at)
    history += _buyer_asked(order, order.model_copy(update={"lines": []}), change, at)
    if not ports.orders.put_new(order, history):
        raise VersionConflict("order was created concurrently")
    return _follow_up(order, change, ports, result="recorded")


def _ignore_stale(order: ChannelOrder, change: OrderChange, ports: IntakePorts, at: str) -> IntakeOutcome:
    """Older news than the order's: only its history says it came."""
    ports.orders.append_history(
        order.amazon_order_id,
        [
            HistoryEntry(
                at=at,
                kind="stale",
                message=f"Ignored stale {change.status} from {change.source} "
                f"(changed {change.changed_at}; order is {order.amazon_status} since {order.amazon_status_at})",
                data={"notification_id": change.notification_id},
            )
        ],
    )
    return IntakeOutcome(result="stale", channel_status=order.channel_status)


def _ignore_after_final(order: ChannelOrder, change: OrderChange, ports: IntakePorts, at: str) -> IntakeOutcome:
    """A shipped order cannot cancel, nor a canceled one ship: the notes say Amazon's contradiction, once."""
    why = (
        "Amazon cannot cancel a shipped order"
        if order.amazon_status == AmazonStatus.SHIPPED
        else "a canceled order does not ship"
    )
    note = (
        f"Amazon sent {change.status} ({change.source}, changed {change.changed_at}) for an order "
        f"already {order.amazon_status}: ignored ({why})"
    )
    if order.notes != note:
        order.notes = note
        order.version += 1
        order.updated_at = at
        ports.orders.save(
            order,
            [
                HistoryEntry(
                    at=at,
                    kind="ignored",
                    message=note,
                    data={"notification_id": change.notification_id, "amazon_status": change.status.value},
                )
            ],
        )
    return IntakeOutcome(result="ignored", channel_status=order.channel_status)


def _repeated(order: ChannelOrder, change: OrderChange, ports: IntakePorts, at: str) -> IntakeOutcome:
    """The same status again: a redelivery, a replay or sync seeing what a notification showed.
    Follow-ups are still re-driven, since an earlier attempt may have died before them."""
    kept = _keep_details(order, change, at)
    if change.changed_at > order.amazon_status_at or change.lines != order.lines or kept:
        kept += _buyer_asked(order, order, change, at)
        order.amazon_status_at = max(order.amazon_status_at, change.changed_at)
        order.lines = change.lines or order.lines
        order.version += 1
        order.updated_at = at
        ports.orders.save(order, kept)
    return _follow_up(order, change, ports, result="duplicate")


def _advance(order: ChannelOrder, change: OrderChange, ports: IntakePorts, at: str) -> IntakeOutcome:
    """Amazon's order moved on: so does the channel's status (an order in Error moves only to Canceled)."""
    previous = order.channel_status
    asked = _buyer_asked(order, order, change, at)
    order.amazon_status = change.status
    order.amazon_status_at = change.changed_at
    order.lines = change.lines or order.lines
    if order.channel_status != ChannelStatus.ERROR or change.status == AmazonStatus.CANCELED:
        order.channel_status = _forward(order.channel_status, _CHANNEL_STATUS[change.status])
    if order.channel_status == ChannelStatus.CANCELED:
        apply_amazon_cancellation(order)  # notes; a cancellation the merchant asked for is settled
    order.version += 1
    order.updated_at = at
    ports.orders.save(
        order, [_status_entry(at, change, previous, order.channel_status), *_keep_details(order, change, at), *asked]
    )
    return _follow_up(order, change, ports, result="advanced")


def _buyer_asked(order: ChannelOrder, before: ChannelOrder, change: OrderChange, at: str) -> list[HistoryEntry]:
    """A buyer's new cancellation request (`IsBuyerRequestedCancel`) goes into the notes, so the
    merchant sees it before shipping. `before` is the order as it stood before this change."""
    note = buyer_cancel_note(before, change.lines)
    if note is None:
        return []
    order.notes = note
    return [HistoryEntry(at=at, kind="buyer", message=note, data={"notification_id": change.notification_id})]


def _keep_details(order: ChannelOrder, change: OrderChange, at: str) -> list[HistoryEntry]:
    """Keep the full order that came with the change (order sync), unless what is kept is newer.

    The MFN workflow then needs no getOrder (`orders.ensure_details`), which is what makes a large
    backlog importable within Amazon's quotas.
    """
    new = change.details
    if new is None or (
        order.details is not None and normalize(order.details.last_updated) >= normalize(new.last_updated)
    ):
        return []
    order.details = new
    return [
        HistoryEntry(
            at=at,
            kind="sp-api",
            message=f"Order details received with the order ({change.source})",
            data={"amazon_status": new.status.value, "last_updated": new.last_updated},
            request_id=new.request_id,
        )
    ]


def _forward(current: ChannelStatus, proposed: ChannelStatus) -> ChannelStatus:
    order_of = [
        ChannelStatus.PENDING,
        ChannelStatus.UNSHIPPED,
        ChannelStatus.PARTIALLY_SHIPPED,
        ChannelStatus.SHIPPED,
    ]
    if current in order_of and proposed in order_of:
        return max(current, proposed, key=order_of.index)
    return proposed


def _status_entry(at: str, change: OrderChange, before: ChannelStatus | None, after: ChannelStatus) -> HistoryEntry:
    return HistoryEntry(
        at=at,
        kind="status",
        message=f"Amazon status {change.status} ({change.source}); channel status "
        f"{before.value if before else 'new'} -> {after.value}",
        data={
            "amazon_status": change.status.value,
            "changed_at": change.changed_at,
            "notification_id": change.notification_id,
            "source": change.source,
        },
    )


def awaits_workflow(order: ChannelOrder) -> bool:
    """A merchant-fulfilled order Amazon has paid and not shipped in full, whose workflow has not started."""
    return (
        order.fulfillment == "MFN"
        and order.amazon_status in (AmazonStatus.UNSHIPPED, AmazonStatus.PARTIALLY_SHIPPED)
        and order.channel_status != ChannelStatus.ERROR
        and not order.workflow_started
    )


def start_workflow(order: ChannelOrder, ports: IntakePorts) -> bool:
    """Start the order's merchant-fulfilled workflow and mark it started."""
    # Starting twice is harmless (one execution name per order and attempt); the flag only spares calls.
    started = ports.workflows.start(order.amazon_order_id, workflow_input(order), attempt=order.import_attempt)

    def mark(o: ChannelOrder) -> list[HistoryEntry] | None:
        if o.workflow_started:
            return None
        o.workflow_started = True
        return [HistoryEntry(at=now_iso(), kind="step", message="Merchant-fulfilled workflow started")]

    mutate(ports.orders, order.amazon_order_id, mark, known=order)
    return started


def _follow_up(order: ChannelOrder, change: OrderChange, ports: IntakePorts, result: str) -> IntakeOutcome:
    started = announced = False
    if order.fulfillment == "MFN":
        if awaits_workflow(order):
            if not ports.details_first or details_current(order.details):
                started = start_workflow(order, ports)
        elif order.amazon_status == AmazonStatus.CANCELED and order.task_token:
            # The waiting workflow must end cleanly rather than wait for a shipment forever.
            ports.workflows.wake(order.task_token, {"reason": "canceled"})
    elif order.amazon_status == AmazonStatus.SHIPPED and order.commerce is None:
        channel_events.publish(ports.events, FbaOrderShipped(**workflow_input(order)))
        announced = True
    return IntakeOutcome(
        result=result,
        channel_status=order.channel_status,
        workflow_started=started,
        fba_import_announced=announced,
    )
