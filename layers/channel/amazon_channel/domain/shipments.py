"""The merchant ships in Commerce: record the shipment on the channel order and wake its workflow.

The Commerce event is only a wake-up call. The shipment itself (items, carrier, tracking) is read
back from Commerce, so a forged or replayed event cannot invent tracking data or ship twice.
"""

from __future__ import annotations

from dataclasses import dataclass

from .errors import OverShipment, PermanentError
from .mfn_workflow import wake_if_waiting
from .models import ChannelOrder, CommerceShipment, HistoryEntry, ShipmentRecord
from .orders import ChannelPorts, entry, mutate


@dataclass(frozen=True)
class ShipmentOutcome:
    result: str  # recorded | duplicate | not-an-amazon-order | fba-order
    amazon_order_id: str | None = None


def record_commerce_shipment(commerce_order_id: int, shipment_id: int, ports: ChannelPorts) -> ShipmentOutcome:
    """Record Commerce shipment `shipment_id` as a package to confirm to Amazon. Safe to repeat."""
    commerce_order = ports.commerce.get_order(commerce_order_id)
    amazon_order_id = commerce_order.amazon_order_id
    if amazon_order_id is None:
        return ShipmentOutcome(result="not-an-amazon-order")
    order = ports.orders.get(amazon_order_id)
    if order is None or order.commerce is None or order.commerce.order_id != commerce_order_id:
        return ShipmentOutcome(result="not-an-amazon-order", amazon_order_id=amazon_order_id)
    if order.fulfillment == "AFN":
        # The channel created this shipment itself when importing the FBA order.
        return ShipmentOutcome(result="fba-order", amazon_order_id=amazon_order_id)
    if any(s.commerce_shipment_id == shipment_id for s in order.shipments):
        # A redelivery: the shipment is recorded, but the wake-up may have failed (SendTaskSuccess
        # throttled): wake again while packages wait to be confirmed. A used token is ignored.
        if order.to_confirm:
            wake_if_waiting(order, ports, f"Commerce shipment {shipment_id} (delivered again)")
        return ShipmentOutcome(result="duplicate", amazon_order_id=amazon_order_id)
    order = _record(order, shipment_id, ports)
    wake_if_waiting(order, ports, f"Commerce shipment {shipment_id}")
    return ShipmentOutcome(result="recorded", amazon_order_id=amazon_order_id)


def take_on_commerce_shipments(amazon_order_id: str, ports: ChannelPorts) -> int:
    """Record the shipments Commerce already holds for the order's Commerce order (an order the
    channel adopted: created by an earlier, uncertain attempt, and maybe shipped by the merchant
    while the channel order showed Error). Returns how many were new. Safe to repeat."""
    order = ports.orders.get(amazon_order_id)
    if order is None or order.commerce is None or order.fulfillment == "AFN":
        return 0
    new = 0
    for shipment_id in ports.commerce.shipment_ids(order.commerce.order_id):
        if any(s.commerce_shipment_id == shipment_id for s in order.shipments):
            continue
        try:
            order = _record(order, shipment_id, ports)
        except OverShipment:
            continue  # noted on both orders, never confirmed (see _refuse_over_shipment)
        new += 1
    return new


def _record(order: ChannelOrder, shipment_id: int, ports: ChannelPorts) -> ChannelOrder:
    """Read Commerce shipment `shipment_id` and record it on the order as a package to confirm."""
    amazon_order_id = order.amazon_order_id
    if order.commerce is None:
        raise PermanentError(
            f"order {amazon_order_id} has no Commerce order: Commerce shipment {shipment_id} is not its"
        )
    commerce_order_id = order.commerce.order_id
    shipment = ports.commerce.get_shipment(shipment_id)
    if shipment.order_id != commerce_order_id:
        raise PermanentError(
            f"Commerce shipment {shipment_id} belongs to order {shipment.order_id}, not to order {commerce_order_id}"
        )
    # Before the shipment is recorded, so that a retry after a failure here releases what is left.
    # MSI has just deducted the source and placed its +qty compensation: the units held through the
    # threshold for this order are no longer to be held.
    ports.commerce.release_held_units(commerce_order_id, f"shipment {shipment_id}")
    try:
        lines = _amazon_lines(order, shipment)
    except OverShipment as e:
        _refuse_over_shipment(ports, order, shipment_id, str(e))
        raise  # the handler parks the event with this reason

    def add(o: ChannelOrder) -> list[HistoryEntry] | None:
        if any(s.commerce_shipment_id == shipment_id for s in o.shipments):
            return None
        o.shipments.append(
            ShipmentRecord(
                commerce_shipment_id=shipment_id,
                carrier=shipment.carrier,
                tracking_number=shipment.tracking_number,
                lines=lines,
                package_reference_id=str(shipment_id),
            )
        )
        o.notes = f"Shipped in Commerce with tracking {shipment.tracking_number}; syncing to Amazon"
        return [
            entry(
                "commerce",
                f"Commerce shipment {shipment_id} recorded",
                shipment.request_id,
                carrier=shipment.carrier,
                tracking_number=shipment.tracking_number,
            )
        ]

    return mutate(ports.orders, amazon_order_id, add)


def _amazon_lines(order: ChannelOrder, shipment: CommerceShipment) -> list[tuple[str, int]]:
    """Map the shipment's SKUs and quantities onto Amazon order item ids.

    A SKU that appears on several Amazon lines fills them in order, skipping what earlier
    shipments already took.
    """
    if order.details is None:
        raise PermanentError(f"order {order.amazon_order_id} has no details")
    taken: dict[str, int] = {}
    for s in order.shipments:
        for item_id, qty in s.lines:
            taken[item_id] = taken.get(item_id, 0) + qty
    result: list[tuple[str, int]] = []
    for sku, qty in shipment.items:
        left = qty
        for item in order.details.items:
            if item.sku != sku or left <= 0:
                continue
            room = item.qty - taken.get(item.order_item_id, 0)
            take = min(room, left)
            if take > 0:
                result.append((item.order_item_id, take))
                taken[item.order_item_id] = taken.get(item.order_item_id, 0) + take
                left -= take
        if left > 0:
            raise OverShipment(f"Commerce shipment ships {qty} x {sku}, more than the Amazon order has left to ship")
    return result


def _refuse_over_shipment(ports: ChannelPorts, order: ChannelOrder, shipment_id: int, why: str) -> None:
    """Quantities never exceed what Amazon ordered: the package is not confirmed, and both the
    channel order and the Commerce order say so (once), for the merchant to settle in Seller Central."""
    note = f"Commerce shipment {shipment_id} not confirmed to Amazon: {why.replace('Commerce shipment ', 'it ')}"

    def refuse(o: ChannelOrder) -> list[HistoryEntry] | None:
        if o.notes == note:
            return None
        o.notes = note
        return [entry("error", note, commerce_shipment_id=shipment_id)]

    mutate(ports.orders, order.amazon_order_id, refuse)
    if order.commerce is not None:
        ports.commerce.add_comment_once(
            order.commerce.order_id,
            f"Amazon channel: shipment {shipment_id} was not confirmed to Amazon: it ships more than the Amazon "
            f"order {order.amazon_order_id} has left to ship. Confirm the package in Seller Central.",
        )
