"""The merchant-fulfilled workflow's steps, from `Unshipped` to `Shipped`.

Each step is one Step Functions task. Each reads the order's current state from the store and is
safe to run again: a Lambda retry, a redelivered start or a replay finds the work done and
returns what it returned the first time.
"""

from __future__ import annotations

import contextlib
import uuid
from datetime import datetime, timedelta
from typing import Any

from . import channel_events
from .channel_events import ShipmentConfirmedToAmazon
from .clock import iso, now_iso
from .commerce_orders import CustomerChoice, build_draft, resolve_customer
from .customers import buyer_for
from .errors import (
    AmazonRejected,
    ChannelError,
    CommerceOrderInProgress,
    ConfirmationInProgress,
    PermanentError,
    TransientError,
)
from .models import (
    AmazonOrder,
    AmazonStatus,
    ChannelOrder,
    ChannelStatus,
    CommerceRef,
    HistoryEntry,
    Lease,
    PackageConfirmation,
    ShipmentRecord,
)
from .orders import ChannelPorts, ensure_details, entry, load, mutate, note_once, store_of


def fetch_order_details(amazon_order_id: str, ports: ChannelPorts) -> dict[str, Any]:
    """MFN step 3 begins: fetch the full order (prices, buyer) once, and keep it."""
    order = load(ports.orders, amazon_order_id)
    store = store_of(ports.stores, order)
    ensure_details(order, ports)
    if not store.settings.import_orders:
        note_once(ports.orders, amazon_order_id, "Import disabled in the order settings: no Commerce order is created")
    return {"import_enabled": store.settings.import_orders}


def resolve_order_customer(amazon_order_id: str, ports: ChannelPorts) -> dict[str, Any]:
    """MFN step 4: guest checkout, or the buyer's customer account (reused, or created once)."""
    order = load(ports.orders, amazon_order_id)
    if order.commerce is not None:
        return {"customer_id": order.commerce.customer_id}
    store = store_of(ports.stores, order)
    choice = resolve_customer(_details(order), store, ports.commerce)
    ports.orders.append_history(
        amazon_order_id,
        [
            entry(
                "commerce",
                "Guest checkout" if choice.is_guest else "Customer account resolved",
                choice.request_id,
                customer_id=choice.customer_id,
            )
        ],
    )
    return {"customer_id": choice.customer_id}


CREATE_LEASE_SECONDS = 60.0  # the handler passes its own remaining time instead


def create_commerce_order(
    amazon_order_id: str,
    customer_id: int | None,
    ports: ChannelPorts,
    lease_seconds: float = CREATE_LEASE_SECONDS,
    owner: str | None = None,
) -> dict[str, Any]:
    """MFN step 3: the Commerce order, with Amazon's prices, created exactly once.

    One creator per order at a time: the order's create lease is taken with a conditional write
    first, so that two invocations (a retried step while the first still runs, an Express child
    started twice) never both find no Commerce order and both create one. The second gets
    `CommerceOrderInProgress` and is retried once the lease is released or has expired.
    """
    order = load(ports.orders, amazon_order_id)
    if order.commerce is None:
        owner = owner or uuid.uuid4().hex
        order = _take_lease(ports, order, "create_lease", owner, lease_seconds)
        if order.commerce is None:  # (another creator may have finished meanwhile)
            try:
                order = _create_and_keep(order, customer_id, owner, ports)
            except ChannelError as e:
                # A clear refusal leaves nothing half made: the lease goes at once. An uncertain
                # failure (a timeout, Commerce unreachable: its save may still land) keeps it until
                # it expires, as a killed invocation's does, so no retry creates alongside it.
                if not isinstance(e, TransientError):
                    _release_lease(ports, amazon_order_id, "create_lease", owner)
                raise
    assert order.commerce is not None
    return {"commerce_order_id": order.commerce.order_id, "commerce_increment_id": order.commerce.increment_id}


def _create_and_keep(order: ChannelOrder, customer_id: int | None, owner: str, ports: ChannelPorts) -> ChannelOrder:
    """Create (or adopt) the Commerce order and record it on the order, releasing the create lease."""
    amazon_order_id = order.amazon_order_id
    store = store_of(ports.stores, order)
    details = _details(order)
    buyer = buyer_for(amazon_order_id, details.buyer_name, details.buyer_email)
    choice = CustomerChoice(**buyer.model_dump(), customer_id=customer_id)
    ref = ports.commerce.create_order(build_draft(details, store, choice, status="processing"))

    def keep(o: ChannelOrder) -> list[HistoryEntry] | None:
        mine = o.create_lease is not None and o.create_lease.owner == owner
        if mine:
            o.create_lease = None
        if o.commerce is not None:
            return [] if mine else None
        o.commerce = CommerceRef(
            order_id=ref.order_id,
            increment_id=ref.increment_id,
            status=ref.status,
            customer_id=ref.customer_id,
            customer_is_guest=ref.customer_is_guest,
            customer_email=ref.customer_email,
        )
        o.notes = f"Commerce order {ref.increment_id} created"
        if ref.note:  # e.g. a status Commerce refused: the order is made, the merchant is told
            o.notes += f"; {ref.note}"
        return [entry("commerce", o.notes, ref.request_id, commerce_order_id=ref.order_id)]

    order = mutate(ports.orders, amazon_order_id, keep, known=order)
    if ref.qty_shipped > 0:
        # An order an earlier, uncertain attempt created, which the merchant has shipped since:
        # the channel takes on its shipments as if it had seen them made.
        from .shipments import take_on_commerce_shipments

        take_on_commerce_shipments(amazon_order_id, ports)
        order = load(ports.orders, amazon_order_id)
    return order


def await_shipments(amazon_order_id: str, task_token: str, ports: ChannelPorts) -> bool:
    """MFN step 5: park the workflow's task token on the order until the merchant ships.

    No lost wake-ups: a shipment or cancellation recorded before the token was stored wakes
    the workflow at once. Returns True when it did.
    """

    def register(o: ChannelOrder) -> list[HistoryEntry] | None:
        o.task_token = task_token
        return [entry("step", "Waiting for the merchant's shipments in Commerce")]

    order = mutate(ports.orders, amazon_order_id, register)
    if _has_work(order):
        _wake(order, ports, "work was already waiting")
        return True
    return False


def wake_if_waiting(order: ChannelOrder, ports: ChannelPorts, reason: str) -> None:
    """Resume the order's waiting workflow, if there is one."""
    if order.task_token:
        _wake(order, ports, reason)


CONFIRM_LEASE_SECONDS = 60.0  # the handler passes its own remaining time instead


def confirm_shipments(
    amazon_order_id: str, ports: ChannelPorts, lease_seconds: float = CONFIRM_LEASE_SECONDS, owner: str | None = None
) -> dict[str, Any]:
    """MFN step 5: confirm each not-yet-confirmed Commerce shipment to Amazon, one package each.

    One confirmer per order at a time: the order's confirm lease is taken with a conditional write
    first (a second invocation, e.g. a retry while the first still runs, or the sweep, gets
    `ConfirmationInProgress` and is retried later). Each package is confirmed once and recorded once.
    """
    order = load(ports.orders, amazon_order_id)
    if order.amazon_status == AmazonStatus.CANCELED or order.channel_status == ChannelStatus.CANCELED:
        _clear_token(ports, amazon_order_id)  # the workflow ends: no token is left on the order
        return {"all_shipped": False, "canceled": True, "cancel_on_amazon": False}
    if _cancellation_pending(order):
        _clear_token(ports, amazon_order_id)
        return {"all_shipped": False, "canceled": False, "cancel_on_amazon": True}
    owner = owner or uuid.uuid4().hex
    if order.to_confirm:
        order = _take_lease(ports, order, "confirm_lease", owner, lease_seconds)
        try:
            for shipment in list(order.shipments):
                if not shipment.confirmed_at:
                    order = _confirm_and_record(order, shipment, ports)
        except Exception:  # a killed invocation (a timeout) releases nothing: its lease expires
            _release_lease(ports, amazon_order_id, "confirm_lease", owner)
            raise

    def done(o: ChannelOrder) -> list[HistoryEntry] | None:
        mine = o.confirm_lease is not None and o.confirm_lease.owner == owner
        if o.task_token is None and not mine:
            return None
        o.task_token = None
        if mine:
            o.confirm_lease = None
        return []

    order = mutate(ports.orders, amazon_order_id, done, known=order)
    return {"all_shipped": _all_shipped(order), "canceled": False, "cancel_on_amazon": False}


_LEASE_BUSY = {
    "create_lease": (CommerceOrderInProgress, "its Commerce order is being created"),
    "confirm_lease": (ConfirmationInProgress, "packages are being confirmed"),
}


def _take_lease(ports: ChannelPorts, order: ChannelOrder, which: str, owner: str, seconds: float) -> ChannelOrder:
    """Take the `which` lease of `order` (as just read; a conditional write), or raise its busy
    error while another invocation holds it. Nothing is written once the work is done (a Commerce
    order recorded)."""
    amazon_order_id = order.amazon_order_id
    now = now_iso()
    until = iso(datetime.fromisoformat(now.replace("Z", "+00:00")) + timedelta(seconds=seconds))
    busy, doing = _LEASE_BUSY[which]

    def take(o: ChannelOrder) -> list[HistoryEntry] | None:
        if which == "create_lease" and o.commerce is not None:
            return None
        lease: Lease | None = getattr(o, which)
        if lease is not None and lease.owner != owner and lease.until > now:
            raise busy(f"order {amazon_order_id}: {doing} by another invocation until {lease.until}")
        setattr(o, which, Lease(owner=owner, until=until))
        return []

    return mutate(ports.orders, amazon_order_id, take, known=order)


def _release_lease(ports: ChannelPorts, amazon_order_id: str, which: str, owner: str) -> None:
    def release(o: ChannelOrder) -> list[HistoryEntry] | None:
        lease: Lease | None = getattr(o, which)
        if lease is None or lease.owner != owner:
            return None
        setattr(o, which, None)
        return []

    with contextlib.suppress(ChannelError):  # the lease expires on its own
        mutate(ports.orders, amazon_order_id, release)


def _confirm_and_record(order: ChannelOrder, shipment: ShipmentRecord, ports: ChannelPorts) -> ChannelOrder:
    """Confirm one package (unless Amazon already has it) and record it, once."""
    amazon_order_id = order.amazon_order_id
    request_id, how, order = _confirm_package_once(order, shipment, ports)

    def confirmed(
        o: ChannelOrder, ref: str = shipment.package_reference_id, rid: str | None = request_id
    ) -> list[HistoryEntry] | None:
        for s in o.shipments:
            if s.package_reference_id == ref and not s.confirmed_at:
                s.confirmed_at = now_iso()
                s.amazon_request_id = rid
                shipped = _all_shipped(o)
                o.channel_status = ChannelStatus.SHIPPED if shipped else ChannelStatus.PARTIALLY_SHIPPED
                o.notes = f"Tracking {s.tracking_number} ({s.carrier}) synced to Amazon"
                message = (
                    f"Package {ref} confirmed to Amazon (confirmShipment)"
                    if how == "confirmed"
                    else f"Package {ref} found on Amazon (getOrder): an earlier confirmShipment had been applied"
                )
                return [entry("sp-api", message, rid, tracking_number=s.tracking_number)]
        return None

    order = mutate(ports.orders, amazon_order_id, confirmed, known=order)
    channel_events.publish(
        ports.events,
        ShipmentConfirmedToAmazon(
            amazon_order_id=amazon_order_id,
            seller_id=order.seller_id,
            marketplace_id=order.marketplace_id,
            package_reference_id=shipment.package_reference_id,
        ),
    )
    return order


def _clear_token(ports: ChannelPorts, amazon_order_id: str) -> None:
    def clear(o: ChannelOrder) -> list[HistoryEntry] | None:
        if o.task_token is None:
            return None
        o.task_token = None
        return []

    mutate(ports.orders, amazon_order_id, clear)


def _cancellation_pending(order: ChannelOrder) -> bool:
    """The merchant canceled in Commerce and Amazon has not settled it yet (see domain/cancellations.py)."""
    return order.cancellation is not None and order.cancellation.outcome == "pending"


def _on_amazon(order: ChannelOrder, ref: str, ports: ChannelPorts) -> str | None:
    """Amazon's request id when Amazon's own copy of the order (getOrder) has package `ref`, else None."""
    on_amazon = ports.marketplace.get_order(order.seller_id, order.amazon_order_id)
    if any(p.package_reference_id == ref for p in on_amazon.packages):
        return on_amazon.request_id or ""
    return None


def _confirm_package_once(
    order: ChannelOrder, shipment: ShipmentRecord, ports: ChannelPorts
) -> tuple[str | None, str, ChannelOrder]:
    """Call confirmShipment for one package, never twice. Returns (request id, confirmed | found,
    the order as last saved or read).

    The attempt is written down before the call. A package whose earlier attempt may have reached
    Amazon (the answer was lost, or the task died before recording it) is looked up first (getOrder,
    only on this recovery path), and so is one Amazon refuses (e.g. "already confirmed"): a package
    Amazon already has counts as confirmed.
    """
    ref = shipment.package_reference_id
    if shipment.confirm_attempted_at:
        found = _on_amazon(order, ref, ports)
        if found is not None:
            return found, "found", order

    def attempting(o: ChannelOrder) -> list[HistoryEntry] | None:
        for s in o.shipments:
            if s.package_reference_id == ref and not s.confirm_attempted_at:
                s.confirm_attempted_at = now_iso()
                return []
        return None

    order = mutate(ports.orders, order.amazon_order_id, attempting, known=order)
    try:
        request_id = ports.marketplace.confirm_shipment(
            order.seller_id,
            PackageConfirmation(
                amazon_order_id=order.amazon_order_id,
                marketplace_id=order.marketplace_id,
                package_reference_id=ref,
                carrier_code=carrier_code(shipment.carrier),
                carrier_name=None if carrier_code(shipment.carrier) != "Other" else shipment.carrier,
                tracking_number=shipment.tracking_number,
                ship_date=now_iso()[:19] + "Z",
                items=shipment.lines,
            ),
        )
    except AmazonRejected:
        # The client retries a 5xx itself: when Amazon had applied the first call, the retry is
        # refused as a duplicate. Amazon's own copy of the order settles it.
        found = _on_amazon(order, ref, ports)
        if found is not None:
            return found, "found", order
        raise
    return request_id, "confirmed", order


def complete_order(amazon_order_id: str, ports: ChannelPorts) -> dict[str, Any]:
    """MFN step 5 ends: every item shipped and synced; the channel order is `Shipped`."""
    order = load(ports.orders, amazon_order_id)
    commerce_status = order.commerce.status if order.commerce else None
    request_id = None
    if order.commerce is not None:
        current = ports.commerce.get_order(order.commerce.order_id)
        commerce_status, request_id = current.status, current.request_id

    def done(o: ChannelOrder) -> list[HistoryEntry] | None:
        changed = o.channel_status != ChannelStatus.SHIPPED or (
            o.commerce is not None and o.commerce.status != commerce_status
        )
        if not changed:
            return None
        o.channel_status = ChannelStatus.SHIPPED
        if o.commerce is not None and commerce_status:
            o.commerce.status = commerce_status
        o.notes = "Shipped: every package confirmed to Amazon"
        return [entry("step", o.notes, request_id, commerce_status=commerce_status)]

    mutate(ports.orders, amazon_order_id, done, known=order)
    return {"channel_status": ChannelStatus.SHIPPED.value, "commerce_status": commerce_status}


def record_order_error(amazon_order_id: str, error: str, cause: str | None, ports: ChannelPorts) -> dict[str, Any]:
    """The workflow failed: the order shows `Error` with the reason in its notes."""
    reason = _reason(error, cause)

    def failed(o: ChannelOrder) -> list[HistoryEntry] | None:
        if o.channel_status == ChannelStatus.CANCELED:
            # Canceled on Amazon is final: a step that failed afterwards (e.g. withdrawing the
            # Commerce order) is noted, never turned into Error.
            o.notes = f"Canceled on Amazon; then failed: {reason}"
            o.task_token = None
            return [entry("error", o.notes, error=error)]
        o.channel_status = ChannelStatus.ERROR
        o.notes = f"Could not be imported: {reason}"
        o.task_token = None
        return [entry("error", o.notes, error=error)]

    order = mutate(ports.orders, amazon_order_id, failed)
    return {"channel_status": order.channel_status.value, "notes": reason}


# Amazon's CarrierCode values for the carriers Commerce knows by name; any other is "Other".
AMAZON_CARRIER_CODES = {
    c.lower(): c
    for c in (
        "UPS",
        "USPS",
        "FedEx",
        "DHL",
        "DHL eCommerce",
        "OnTrac",
        "LaserShip",
        "Amazon Shipping",
        "Royal Mail",
        "Canada Post",
        "Deutsche Post",
        "Hermes",
        "DPD",
        "GLS",
        "Japan Post",
        "Yamato Transport",
    )
}


def carrier_code(carrier: str) -> str:
    """Amazon's carrier code for a Commerce carrier title."""
    return AMAZON_CARRIER_CODES.get(carrier.strip().lower(), "Other")


def _reason(error: str, cause: str | None) -> str:
    import json

    if not cause:
        return error
    try:
        message = json.loads(cause).get("errorMessage", cause)
    except (ValueError, AttributeError):
        message = cause
    return f"{error}: {message}"[:500]


def _details(order: ChannelOrder) -> AmazonOrder:
    if order.details is None:
        raise PermanentError(f"order {order.amazon_order_id} has no details yet")
    return order.details


def _all_shipped(order: ChannelOrder) -> bool:
    shipped: dict[str, int] = {}
    for s in order.shipments:
        if s.confirmed_at:
            for item_id, qty in s.lines:
                shipped[item_id] = shipped.get(item_id, 0) + qty
    lines = order.details.items if order.details else []
    return bool(lines) and all(shipped.get(i.order_item_id, 0) >= i.qty for i in lines)


def _has_work(order: ChannelOrder) -> bool:
    return (
        order.amazon_status == AmazonStatus.CANCELED
        or _cancellation_pending(order)
        or any(not s.confirmed_at for s in order.shipments)
    )


def _wake(order: ChannelOrder, ports: ChannelPorts, reason: str) -> None:
    if order.task_token and ports.workflows.wake(order.task_token, {"reason": reason}):
        ports.orders.append_history(order.amazon_order_id, [entry("step", f"Workflow resumed: {reason}")])


__all__ = [
    "ChannelError",
    "await_shipments",
    "complete_order",
    "confirm_shipments",
    "create_commerce_order",
    "fetch_order_details",
    "record_order_error",
    "resolve_order_customer",
    "wake_if_waiting",
]
