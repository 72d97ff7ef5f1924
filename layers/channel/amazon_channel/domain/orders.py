"""Reading and changing a channel order safely: load, change, conditional save, retry on conflict."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .clock import now_iso
from .errors import OrderNotFound, UnknownStore, VersionConflict
from .models import AmazonOrder, AmazonStatus, ChannelOrder, HistoryEntry, StoreConfig
from .ports import (
    CommerceStore,
    EventPublisher,
    Marketplace,
    OrderStore,
    StoreDirectory,
    WorkflowStarter,
)


@dataclass
class ChannelPorts:
    """Everything a workflow step may talk to."""

    orders: OrderStore
    stores: StoreDirectory
    marketplace: Marketplace
    commerce: CommerceStore
    events: EventPublisher
    workflows: WorkflowStarter


def load(orders: OrderStore, amazon_order_id: str) -> ChannelOrder:
    order = orders.get(amazon_order_id)
    if order is None:
        raise OrderNotFound(f"the channel has no order {amazon_order_id}")
    return order


def store_of(stores: StoreDirectory, order: ChannelOrder) -> StoreConfig:
    store = stores.find(order.seller_id, order.marketplace_id)
    if store is None:
        raise UnknownStore(f"seller {order.seller_id} / marketplace {order.marketplace_id} is not connected")
    return store


Change = Callable[[ChannelOrder], list[HistoryEntry] | None]


def mutate(
    orders: OrderStore, amazon_order_id: str, change: Change, attempts: int = 6, known: ChannelOrder | None = None
) -> ChannelOrder:
    """Apply `change` to the latest copy of the order and save it conditionally.

    `change` edits the order in place and returns the history to append, or None when there is
    nothing to do (then nothing is written). A concurrent writer makes us reload and re-apply.

    `known` is a copy the caller has just read or saved: the change is tried on it first, which
    spares a read when nobody wrote since. Nothing is decided on it alone: the save is conditional
    on its version, and a change that finds nothing to do, or refuses (raises), on `known` is
    applied again to the latest copy.
    """
    for _ in range(attempts + (known is not None)):  # the trial on `known` is not one of the attempts
        trial = known is not None
        order = known.model_copy(deep=True) if known is not None else load(orders, amazon_order_id)
        known = None
        try:
            history = change(order)
        except Exception:
            if trial:
                continue
            raise
        if history is None:
            if trial:
                continue
            return order
        order.version += 1
        order.updated_at = now_iso()
        try:
            orders.save(order, history)
            return order
        except VersionConflict:
            continue
    raise VersionConflict(f"order {amazon_order_id} kept changing; retry later")


def entry(kind: str, message: str, request_id: str | None = None, **data: Any) -> HistoryEntry:
    return HistoryEntry(at=now_iso(), kind=kind, message=message, data=data, request_id=request_id)


def note_once(orders: OrderStore, amazon_order_id: str, text: str) -> None:
    """Set the order's notes to `text` (the Orders view's latest action), unless it already says so."""

    def note(o: ChannelOrder) -> list[HistoryEntry] | None:
        if o.notes == text:
            return None
        o.notes = text
        return [entry("step", text)]

    mutate(orders, amazon_order_id, note)


def details_current(details: AmazonOrder | None) -> bool:
    """Whether kept details can stand for the order: taken once Amazon verified the payment.

    Details seen while the order was Pending (e.g. by the order sync) may lack what Amazon only
    shows for a paid order (buyer, address); the import reads the order again then.
    """
    return details is not None and details.status not in (AmazonStatus.PENDING, AmazonStatus.PENDING_AVAILABILITY)


def ensure_details(order: ChannelOrder, ports: ChannelPorts) -> AmazonOrder:
    """The order's full details: those kept with the order (the order sync's searchOrders brings
    them), else fetched from Amazon (getOrder) at most once and kept."""
    if order.details is not None and details_current(order.details):
        return order.details
    details = ports.marketplace.get_order(order.seller_id, order.amazon_order_id)
    return keep_fetched_details(ports.orders, order.amazon_order_id, details, known=order)


def keep_fetched_details(
    orders: OrderStore, amazon_order_id: str, details: AmazonOrder, known: ChannelOrder | None = None
) -> AmazonOrder:
    """Keep what getOrder read, unless current details were kept meanwhile; the details kept."""
    return keep_fetched_order(orders, amazon_order_id, details, known).details or details


def keep_fetched_order(
    orders: OrderStore, amazon_order_id: str, details: AmazonOrder, known: ChannelOrder | None = None
) -> ChannelOrder:
    """`keep_fetched_details`, answering the order as saved (or as found, when it had current details)."""

    def keep(o: ChannelOrder) -> list[HistoryEntry] | None:
        if details_current(o.details):
            return None
        o.details = details
        return [entry("sp-api", "Order details fetched (getOrder)", details.request_id)]

    return mutate(orders, amazon_order_id, keep, known=known)
