"""Fulfilled by Amazon: once Amazon has shipped the order, import it as a `complete` Commerce order."""

from __future__ import annotations

from . import outbox
from .channel_events import CommerceOrderCreated
from .commerce_orders import build_draft, resolve_customer
from .errors import OrderBlocked, PermanentError
from .models import (
    ChannelOrder,
    ChannelStatus,
    CommerceOrderRef,
    CommerceRef,
    CommerceShipment,
    HistoryEntry,
    StoreConfig,
)
from .orders import ChannelPorts, ensure_details, entry, load, mutate, note_once, store_of


def import_fba_order(amazon_order_id: str, ports: ChannelPorts) -> str:
    """FBA steps 2-3. Returns what happened: imported | already-imported | disabled. Safe to repeat.

    Raises `OrderBlocked` when Commerce refuses the order (a product missing, disabled or not
    salable): the order shows `Error` with the SKU and the cause, like a merchant-fulfilled order,
    and only the order sync's retry (which takes it out of `Error`) imports it again, so each
    attempt runs once however often the event is delivered.
    """
    order = load(ports.orders, amazon_order_id)
    if order.fulfillment != "AFN":
        raise PermanentError(f"order {amazon_order_id} is not fulfilled by Amazon")
    if order.commerce is not None:
        # An earlier attempt imported it; its CommerceOrderCreated may not have reached the bus.
        outbox.deliver(ports.orders, ports.events, order)
        return "already-imported"
    if order.channel_status == ChannelStatus.ERROR:
        raise OrderBlocked(f"order {amazon_order_id} is blocked: {order.notes}", newly=False)
    store = store_of(ports.stores, order)
    if not (store.settings.import_orders and store.settings.import_fba_orders):
        which = "Import" if not store.settings.import_orders else "FBA import"
        note_once(
            ports.orders, amazon_order_id, f"{which} disabled in the order settings: no Commerce order is created"
        )
        return "disabled"

    try:
        ref, commerce_status = _complete_commerce_order(order, store, ports)
    except PermanentError as e:
        raise _blocked(amazon_order_id, e, ports) from e
    order = _record_import(amazon_order_id, ref, commerce_status, ports)
    outbox.deliver(ports.orders, ports.events, order)
    return "imported"


def _complete_commerce_order(
    order: ChannelOrder, store: StoreConfig, ports: ChannelPorts
) -> tuple[CommerceOrderRef, str]:
    """Create the Commerce order and ship all of it: the order and its status (`complete`)."""
    details = ensure_details(order, ports)
    customer = resolve_customer(details, store, ports.commerce)
    ref = ports.commerce.create_order(build_draft(details, store, customer, status="processing"))
    commerce_order = ports.commerce.get_order(ref.order_id)
    if commerce_order.status != "complete":
        # One Commerce shipment of every item completes the order. It has no track: Amazon gives
        # no carrier or tracking number for an FBA order (`packages` are merchant-fulfilled only).
        ports.commerce.ship_order(
            ref.order_id,
            CommerceShipment(order_id=ref.order_id, items=[(i.sku, i.qty) for i in details.items]),
        )
        commerce_order = ports.commerce.get_order(ref.order_id)
    return ref, commerce_order.status


def _record_import(
    amazon_order_id: str, ref: CommerceOrderRef, commerce_status: str, ports: ChannelPorts
) -> ChannelOrder:
    """The order is Shipped, with its Commerce order, and CommerceOrderCreated in its outbox."""

    def imported(o: ChannelOrder) -> list[HistoryEntry] | None:
        if o.commerce is not None:
            return None
        o.commerce = CommerceRef(
            order_id=ref.order_id,
            increment_id=ref.increment_id,
            status=commerce_status,
            customer_id=ref.customer_id,
            customer_is_guest=ref.customer_is_guest,
            customer_email=ref.customer_email,
        )
        o.channel_status = ChannelStatus.SHIPPED
        o.notes = f"Commerce order {ref.increment_id} created ({commerce_status})"
        if ref.note:
            o.notes += f"; {ref.note}"
        outbox.add(
            o,
            CommerceOrderCreated(
                event_id=CommerceOrderCreated.event_id_of(amazon_order_id),
                amazon_order_id=amazon_order_id,
                seller_id=o.seller_id,
                marketplace_id=o.marketplace_id,
                commerce_increment_id=ref.increment_id,
            ),
        )
        return [entry("commerce", o.notes, ref.request_id, commerce_order_id=ref.order_id)]

    return mutate(ports.orders, amazon_order_id, imported)


def _blocked(amazon_order_id: str, error: PermanentError, ports: ChannelPorts) -> OrderBlocked:
    """The order shows `Error` with the cause, as the MFN workflow's RecordOrderError writes it; the
    state write marks it blocked, so every order sync retries it."""
    reason = f"{type(error).__name__}: {str(error).splitlines()[0] if str(error) else ''}"[:500]

    def failed(o: ChannelOrder) -> list[HistoryEntry] | None:
        if o.commerce is not None or o.channel_status == ChannelStatus.ERROR:
            return None
        o.channel_status = ChannelStatus.ERROR
        o.notes = f"Could not be imported: {reason}"
        return [entry("error", o.notes, error=type(error).__name__)]

    mutate(ports.orders, amazon_order_id, failed)
    return OrderBlocked(f"order {amazon_order_id} could not be imported: {reason}", newly=True)
