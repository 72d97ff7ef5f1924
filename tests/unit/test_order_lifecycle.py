"""Merchants' orders through the domain, with in-memory stand-ins for AWS, Amazon and Commerce."""

import pytest

from amazon_channel.domain import mfn_workflow as mfn
from amazon_channel.domain.errors import UnknownStore
from amazon_channel.domain.fba_import import import_fba_order
from amazon_channel.domain.intake import IntakePorts, record_order_change
from amazon_channel.domain.models import AmazonStatus, ChannelStatus, CommerceShipment, OrderChange, OrderLine
from amazon_channel.domain.shipments import record_commerce_shipment
from fakes import MARKETPLACE, SELLER, channel_ports

ORDER = "113-0000000-0000001"


def change(status, at, fulfillment="MFN", order=ORDER, seller=SELLER):
    return OrderChange(
        amazon_order_id=order,
        seller_id=seller,
        marketplace_id=MARKETPLACE,
        status=status,
        fulfillment=fulfillment,
        changed_at=f"2026-11-26T10:00:{at:02d}.000000Z",
        lines=[OrderLine(order_item_id="100", sku="MUG-01", qty=2)],
    )


def intake(ports):
    return IntakePorts(orders=ports.orders, stores=ports.stores, workflows=ports.workflows, events=ports.events)


def test_pending_order_is_kept_but_hidden_then_shown_and_started_at_unshipped():
    ports = channel_ports()
    # Given a new MFN order still Pending on Amazon
    record_order_change(change(AmazonStatus.PENDING, 1), intake(ports))
    order = ports.orders.get(ORDER)
    # Then the channel keeps it, hidden from the Orders view, with no workflow yet
    assert order.channel_status == ChannelStatus.PENDING and not order.visible
    assert ports.workflows.started == set()
    # When Amazon verifies payment
    outcome = record_order_change(change(AmazonStatus.UNSHIPPED, 2), intake(ports))
    # Then it shows, and its one workflow starts
    assert ports.orders.get(ORDER).visible and outcome.workflow_started


def test_a_stale_pending_notification_never_moves_an_unshipped_order_back():
    ports = channel_ports()
    record_order_change(change(AmazonStatus.UNSHIPPED, 5), intake(ports))
    # When the older Pending notification arrives late
    outcome = record_order_change(change(AmazonStatus.PENDING, 1), intake(ports))
    # Then nothing moves, and the history says why
    assert outcome.result == "stale"
    assert ports.orders.get(ORDER).channel_status == ChannelStatus.UNSHIPPED
    assert any(e.kind == "stale" for e in ports.orders.history(ORDER))


def test_a_redelivered_notification_starts_no_second_workflow():
    ports = channel_ports()
    record_order_change(change(AmazonStatus.UNSHIPPED, 2), intake(ports))
    again = record_order_change(change(AmazonStatus.UNSHIPPED, 2), intake(ports))
    assert again.result == "duplicate" and not again.workflow_started
    assert ports.workflows.started == {ORDER}


def test_fba_orders_are_imported_only_once_amazon_has_shipped_them():
    ports = channel_ports()
    # Given an FBA order Pending then Unshipped on Amazon
    for n, status in enumerate((AmazonStatus.PENDING, AmazonStatus.UNSHIPPED)):
        assert record_order_change(change(status, n, fulfillment="AFN"), intake(ports)).result == "ignored"
    assert ports.orders.get(ORDER) is None
    # When Amazon ships it
    outcome = record_order_change(change(AmazonStatus.SHIPPED, 9, fulfillment="AFN"), intake(ports))
    # Then the channel records it Shipped and announces the FBA import
    assert outcome.fba_import_announced
    assert ports.events.published[-1][0] == "FbaOrderShipped"
    # And the import makes one complete Commerce order, even when repeated
    ports.marketplace.add(ORDER, fulfillment="AFN", buyer_name=None, buyer_email=None)
    assert import_fba_order(ORDER, ports) == "imported"
    assert import_fba_order(ORDER, ports) == "already-imported"
    assert len(ports.commerce.orders) == 1
    order = ports.orders.get(ORDER)
    assert order.commerce.status == "complete" and order.channel_status == ChannelStatus.SHIPPED
    draft = ports.commerce.orders[1]["draft"]
    assert (draft.customer_firstname, draft.customer_lastname) == ("Amazon", "Customer")


def test_an_order_for_a_store_that_is_not_connected_is_refused_with_a_reason():
    ports = channel_ports()
    with pytest.raises(UnknownStore, match="A9UNKNOWN"):
        record_order_change(change(AmazonStatus.PENDING, 1, seller="A9UNKNOWN"), intake(ports))


def _unshipped_order_with_commerce_order(ports, customer_id=None):
    record_order_change(change(AmazonStatus.UNSHIPPED, 2), intake(ports))
    ports.marketplace.add(ORDER)
    assert mfn.fetch_order_details(ORDER, ports) == {"import_enabled": True}
    mfn.create_commerce_order(ORDER, customer_id, ports)


def test_the_commerce_order_keeps_amazons_prices_and_is_created_once():
    ports = channel_ports()
    _unshipped_order_with_commerce_order(ports)
    # When the step runs again (a Lambda retry)
    mfn.create_commerce_order(ORDER, None, ports)
    mfn.fetch_order_details(ORDER, ports)
    # Then there is still one Commerce order, and getOrder was called once
    assert len(ports.commerce.orders) == 1 and ports.marketplace.get_calls == 1
    draft = ports.commerce.orders[1]["draft"]
    assert str(draft.grand_total) == "31.99" and draft.customer_is_guest


def test_a_status_commerce_refused_becomes_a_note_and_the_workflow_goes_on():
    ports = channel_ports()
    # Given Commerce makes the order but keeps its own status, saying why
    why = 'Commerce kept status "processing": it refused status "amazon_new".'
    created = ports.commerce.create_order
    ports.commerce.create_order = lambda draft: created(draft).model_copy(update={"note": why})
    # When the workflow creates the Commerce order
    _unshipped_order_with_commerce_order(ports)
    # Then the order is imported, the merchant reads why in its notes, and the workflow waits for shipments
    order = ports.orders.get(ORDER)
    assert order.commerce is not None and order.channel_status == ChannelStatus.UNSHIPPED
    assert order.notes == f"Commerce order 000000001 created; {why}"
    assert mfn.await_shipments(ORDER, "token-1", ports) is False


def test_an_mfn_order_asks_commerce_to_hold_its_stock_and_an_fba_order_does_not():
    ports = channel_ports()
    _unshipped_order_with_commerce_order(ports)
    assert ports.commerce.orders[1]["draft"].fulfillment == "MFN"
    record_order_change(change(AmazonStatus.SHIPPED, 3, fulfillment="AFN", order="114-0000000-0000002"), intake(ports))
    ports.marketplace.add("114-0000000-0000002", fulfillment="AFN")
    import_fba_order("114-0000000-0000002", ports)
    assert ports.commerce.orders[2]["draft"].fulfillment == "AFN"


def test_customer_creation_reuses_an_existing_account():
    ports = channel_ports(customer_creation="create")
    record_order_change(change(AmazonStatus.UNSHIPPED, 2), intake(ports))
    ports.marketplace.add(ORDER, buyer_name="Ana Souza", buyer_email="ANA@example.com")
    mfn.fetch_order_details(ORDER, ports)
    first = mfn.resolve_order_customer(ORDER, ports)
    second = mfn.resolve_order_customer(ORDER, ports)
    assert first == second and len(ports.commerce.customers) == 1
    assert ports.commerce.customers[0].email == "ana@example.com"


def test_a_shipment_recorded_before_the_workflow_waits_is_not_lost():
    ports = channel_ports()
    _unshipped_order_with_commerce_order(ports)
    # Given the merchant ships before the workflow has parked its token
    ports.commerce.shipments[7] = CommerceShipment(
        id=7, order_id=1, carrier="UPS", tracking_number="1Z9", items=[("MUG-01", 2)]
    )
    assert record_commerce_shipment(1, 7, ports).result == "recorded"
    assert ports.commerce.orders[1]["releases"] == ["shipment 7"]  # its held mugs go back to the shelf's count
    # When the workflow starts waiting
    woke = mfn.await_shipments(ORDER, "token-1", ports)
    # Then it is woken at once
    assert woke and ports.workflows.woken == ["token-1"]
    # And the package is confirmed once, however often the step runs
    assert mfn.confirm_shipments(ORDER, ports) == {"all_shipped": True, "canceled": False, "cancel_on_amazon": False}
    mfn.confirm_shipments(ORDER, ports)
    assert len(ports.marketplace.confirmations) == 1
    confirmation = ports.marketplace.confirmations[0]
    assert confirmation.items == [("100", 2)] and confirmation.package_reference_id == "7"
    # And a replayed Commerce event records nothing twice
    assert record_commerce_shipment(1, 7, ports).result == "duplicate"
    assert mfn.complete_order(ORDER, ports)["channel_status"] == "Shipped"


def test_import_disabled_records_the_order_without_a_commerce_order():
    ports = channel_ports(import_orders=False)
    record_order_change(change(AmazonStatus.UNSHIPPED, 2), intake(ports))
    ports.marketplace.add(ORDER)
    assert mfn.fetch_order_details(ORDER, ports) == {"import_enabled": False}
    assert "Import disabled" in ports.orders.get(ORDER).notes
