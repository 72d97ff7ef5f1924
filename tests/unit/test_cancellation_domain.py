"""Cancellations both ways, buyers' cancellation requests and over-shipments, through the domain
with in-memory stand-ins for AWS, Amazon and Commerce."""

import pytest

from amazon_channel.domain import mfn_workflow as mfn
from amazon_channel.domain.cancellations import (
    MAX_FEED_CHECKS,
    cancel_commerce_order,
    reason_code_for,
    record_commerce_cancellation,
    request_amazon_cancellation,
)
from amazon_channel.domain.errors import OverShipment
from amazon_channel.domain.intake import IntakePorts, record_order_change
from amazon_channel.domain.models import AmazonStatus, ChannelStatus, CommerceShipment, OrderChange, OrderLine
from amazon_channel.domain.shipments import record_commerce_shipment
from fakes import MARKETPLACE, SELLER, channel_ports

ORDER = "113-0000000-0000001"
COMMERCE_ORDER = 1


def change(status, at, buyer_asked=False):
    return OrderChange(
        amazon_order_id=ORDER,
        seller_id=SELLER,
        marketplace_id=MARKETPLACE,
        status=status,
        fulfillment="MFN",
        changed_at=f"2026-11-26T10:00:{at:02d}.000000Z",
        lines=[OrderLine(order_item_id="100", sku="MUG-01", qty=2, buyer_requested_cancel=buyer_asked)],
    )


def intake(ports, status, at, buyer_asked=False):
    return record_order_change(
        change(status, at, buyer_asked),
        IntakePorts(orders=ports.orders, stores=ports.stores, workflows=ports.workflows, events=ports.events),
    )


def waiting_unshipped_order(ports):
    """An Unshipped order with its invoiced Commerce order, its workflow waiting for shipments."""
    intake(ports, AmazonStatus.UNSHIPPED, 2)
    ports.marketplace.add(ORDER)
    mfn.fetch_order_details(ORDER, ports)
    mfn.create_commerce_order(ORDER, None, ports)
    assert mfn.await_shipments(ORDER, "token-1", ports) is False


def the_order(ports):
    return ports.orders.get(ORDER)


def comments(ports):
    return ports.commerce.orders[COMMERCE_ORDER].get("comments", [])


# ----------------------------------------------------------------------------- Amazon cancels
def test_amazon_cancels_and_the_unshipped_commerce_order_is_withdrawn_once_with_a_comment():
    ports = channel_ports()
    waiting_unshipped_order(ports)
    # When Amazon cancels (the buyer did, on Amazon)
    intake(ports, AmazonStatus.CANCELED, 3)
    # Then the waiting workflow is woken, and ends on the canceled path with no token left
    assert ports.workflows.woken == ["token-1"]
    assert mfn.confirm_shipments(ORDER, ports)["canceled"] is True
    assert the_order(ports).task_token is None
    # And its last step withdraws the Commerce order, with a comment, however often it runs
    for _ in range(2):
        assert cancel_commerce_order(ORDER, ports) == {"commerce_status": "closed"}
    commerce = ports.commerce.orders[COMMERCE_ORDER]
    assert commerce["cancel_calls"] == 1
    assert set(commerce["releases"]) == {"withdrawal"}  # what it held is released (a repeat releases nothing)
    assert [c for c in comments(ports) if "was canceled on Amazon" in c] == [comments(ports)[0]]
    order = the_order(ports)
    assert order.channel_status == ChannelStatus.CANCELED and order.commerce.status == "closed"
    assert order.notes.startswith("Canceled on Amazon; Commerce order 000000001 closed")


def test_a_commerce_order_that_already_shipped_items_is_left_open_with_a_note():
    ports = channel_ports()
    waiting_unshipped_order(ports)
    ports.commerce.orders[COMMERCE_ORDER]["shipped"] = 1  # the merchant shipped one unit meanwhile
    intake(ports, AmazonStatus.CANCELED, 3)
    # When the workflow's last step runs
    cancel_commerce_order(ORDER, ports)
    # Then nothing is withdrawn; the order says what to do, and Commerce has a comment
    assert "cancel_calls" not in ports.commerce.orders[COMMERCE_ORDER]
    assert "left open in Commerce" in the_order(ports).notes
    assert any("after items of this order shipped" in c for c in comments(ports))
    assert the_order(ports).channel_status == ChannelStatus.CANCELED


def test_a_step_failing_after_amazon_canceled_never_turns_the_order_into_error():
    ports = channel_ports()
    waiting_unshipped_order(ports)
    intake(ports, AmazonStatus.CANCELED, 3)
    result = mfn.record_order_error(ORDER, "CommerceUnavailable", '{"errorMessage": "Commerce answered 503"}', ports)
    assert result["channel_status"] == "Canceled"
    assert the_order(ports).notes.startswith("Canceled on Amazon; then failed: CommerceUnavailable")


# ----------------------------------------------------------------------------- the merchant cancels
def test_the_merchant_cancels_an_unshipped_order_and_amazon_cancels_it():
    ports = channel_ports()
    waiting_unshipped_order(ports)
    # When the merchant withdraws the Commerce order with a reason
    ports.commerce.merchant_withdraws(COMMERCE_ORDER, "Out of stock: the supplier let us down")
    outcome = record_commerce_cancellation(COMMERCE_ORDER, ports)
    # Then it is recorded for Amazon, and the waiting workflow is woken to send it
    assert outcome.result == "requested" and ports.workflows.woken == ["token-1"]
    assert ports.commerce.orders[COMMERCE_ORDER]["releases"] == ["credit memo"]
    assert the_order(ports).cancellation.reason_code == "NoInventory"
    assert mfn.confirm_shipments(ORDER, ports)["cancel_on_amazon"] is True
    # When the workflow sends it: one feed for the whole order, accepted by Amazon
    assert request_amazon_cancellation(ORDER, ports) == {"cancellation": "accepted"}
    assert request_amazon_cancellation(ORDER, ports) == {"cancellation": "accepted"}
    [sent] = ports.marketplace.cancellations
    assert (sent.amazon_order_id, sent.order_item_ids, sent.reason_code) == (ORDER, ["100"], "NoInventory")
    assert "waiting for Amazon to cancel the order" in the_order(ports).notes
    # Then Amazon's Canceled ends it: Canceled in the channel, with the merchant's reason
    intake(ports, AmazonStatus.CANCELED, 3)
    order = the_order(ports)
    assert order.channel_status == ChannelStatus.CANCELED
    assert order.notes == "Canceled from Commerce (Out of stock: the supplier let us down); Amazon canceled the order"
    # And the workflow's last step finds the Commerce order already withdrawn
    assert cancel_commerce_order(ORDER, ports) == {"commerce_status": "closed"}
    assert "cancel_calls" not in ports.commerce.orders[COMMERCE_ORDER]


def test_a_repeated_cancellation_event_sends_nothing_twice():
    ports = channel_ports()
    waiting_unshipped_order(ports)
    ports.commerce.merchant_withdraws(COMMERCE_ORDER, "Customer asked to cancel")
    assert record_commerce_cancellation(COMMERCE_ORDER, ports).result == "requested"
    assert record_commerce_cancellation(COMMERCE_ORDER, ports).result == "duplicate"
    request_amazon_cancellation(ORDER, ports)
    assert len(ports.marketplace.cancellations) == 1


def test_amazon_still_processing_the_feed_is_checked_again_then_given_up_with_a_note():
    ports = channel_ports()
    waiting_unshipped_order(ports)
    ports.marketplace.feed_answer = "pending"
    ports.commerce.merchant_withdraws(COMMERCE_ORDER, "Pricing error")
    record_commerce_cancellation(COMMERCE_ORDER, ports)
    # When Amazon keeps the feed in progress, the workflow checks again, without sending it again
    for _ in range(MAX_FEED_CHECKS - 1):
        assert request_amazon_cancellation(ORDER, ports) == {"cancellation": "pending"}
    # Then after the last check the merchant is told to look in Seller Central
    assert request_amazon_cancellation(ORDER, ports) == {"cancellation": "refused"}
    assert len(ports.marketplace.cancellations) == 1
    assert "see it in Seller Central" in the_order(ports).notes
    assert the_order(ports).channel_status == ChannelStatus.UNSHIPPED


def test_amazon_refusing_the_feed_is_noted_on_both_orders():
    ports = channel_ports()
    waiting_unshipped_order(ports)
    ports.marketplace.feed_answer = "refused"
    ports.commerce.merchant_withdraws(COMMERCE_ORDER, "Address undeliverable")
    record_commerce_cancellation(COMMERCE_ORDER, ports)
    assert request_amazon_cancellation(ORDER, ports) == {"cancellation": "refused"}
    assert the_order(ports).notes == "Not canceled on Amazon: Amazon refused it: The order is Shipped"
    assert any("NOT canceled on Amazon" in c for c in comments(ports))
    # And the workflow goes back to waiting: nothing more to send
    assert mfn.confirm_shipments(ORDER, ports)["cancel_on_amazon"] is False


def test_a_feed_sent_by_a_task_that_died_is_not_sent_again_once_amazon_canceled():
    ports = channel_ports()
    waiting_unshipped_order(ports)
    ports.commerce.merchant_withdraws(COMMERCE_ORDER, "No inventory")
    record_commerce_cancellation(COMMERCE_ORDER, ports)
    # Given an attempt that reached Amazon but died before recording the feed id
    order = ports.orders.items[ORDER]
    order.cancellation.submit_attempted_at = "2026-11-26T10:00:09Z"
    ports.marketplace.orders[ORDER].status = AmazonStatus.CANCELED
    # When the step runs again, it looks before sending
    assert request_amazon_cancellation(ORDER, ports) == {"cancellation": "accepted"}
    assert ports.marketplace.cancellations == []


@pytest.mark.parametrize(
    "setup, refusal",
    [
        ({"shipped": 1}, "partially shipped orders are canceled in Seller Central"),
        ({"qty": 1}, "only whole orders are canceled from Commerce (1 of 2 items were withdrawn)"),
        ({"reason": ""}, "a cancellation needs a reason"),
    ],
    ids=["partially-shipped", "partial", "no-reason"],
)
def test_cancellations_amazon_cannot_take_from_commerce_are_refused_with_a_note(setup, refusal):
    ports = channel_ports()
    waiting_unshipped_order(ports)
    reason = setup.pop("reason", "Customer changed their mind")
    ports.commerce.merchant_withdraws(COMMERCE_ORDER, reason, **setup)
    # When the cancellation event arrives (twice)
    assert record_commerce_cancellation(COMMERCE_ORDER, ports).result == "refused"
    assert record_commerce_cancellation(COMMERCE_ORDER, ports).result == "duplicate"
    # Then nothing goes to Amazon; both orders say why, once; the workflow keeps waiting
    assert ports.marketplace.cancellations == [] and ports.workflows.woken == []
    assert the_order(ports).notes.startswith("Not canceled on Amazon: ") and refusal in the_order(ports).notes
    assert len([c for c in comments(ports) if "NOT canceled on Amazon" in c]) == 1
    assert the_order(ports).channel_status == ChannelStatus.UNSHIPPED


def test_a_pending_order_is_canceled_in_seller_central():
    ports = channel_ports()
    waiting_unshipped_order(ports)
    ports.orders.items[ORDER].channel_status = ChannelStatus.PENDING  # as if Commerce had a Pending order
    ports.commerce.merchant_withdraws(COMMERCE_ORDER, "Duplicate order")
    assert record_commerce_cancellation(COMMERCE_ORDER, ports).result == "refused"
    assert the_order(ports).notes == "Not canceled on Amazon: Pending orders are canceled in Seller Central"


def test_our_own_withdrawal_after_amazon_canceled_is_not_sent_back_to_amazon():
    ports = channel_ports()
    waiting_unshipped_order(ports)
    intake(ports, AmazonStatus.CANCELED, 3)
    cancel_commerce_order(ORDER, ports)
    # When Commerce announces the credit memo the channel itself made
    assert record_commerce_cancellation(COMMERCE_ORDER, ports).result == "already-canceled"
    assert ports.marketplace.cancellations == []


@pytest.mark.parametrize(
    "reason, buyer_asked, code",
    [
        ("Out of stock", False, "NoInventory"),
        ("Undeliverable address", False, "ShippingAddressUndeliverable"),
        ("CustomerExchange", False, "CustomerExchange"),
        ("We changed our mind", False, "GeneralAdjustment"),
        ("Out of stock", True, "BuyerCanceled"),
    ],
)
def test_the_merchants_reason_becomes_amazons_cancellation_reason_code(reason, buyer_asked, code):
    assert reason_code_for(reason, buyer_asked) == code


# ----------------------------------------------------------------------------- buyers asking to cancel
def test_a_buyer_asking_amazon_to_cancel_shows_in_the_notes_before_shipping():
    ports = channel_ports()
    waiting_unshipped_order(ports)
    # When Amazon tells the channel the buyer asked to cancel (same status, BuyerRequestedChange)
    assert intake(ports, AmazonStatus.UNSHIPPED, 4, buyer_asked=True).result == "duplicate"
    # Then the merchant sees it in the notes, once
    note = "Buyer asked Amazon to cancel (MUG-01): do not ship; cancel Commerce order 000000001 with the reason BuyerCanceled"
    assert the_order(ports).notes == note
    intake(ports, AmazonStatus.UNSHIPPED, 5, buyer_asked=True)
    assert [e.kind for e in ports.orders.history(ORDER)].count("buyer") == 1
    # And a cancellation from Commerce then tells Amazon the buyer canceled
    ports.commerce.merchant_withdraws(COMMERCE_ORDER, "As the buyer asked")
    record_commerce_cancellation(COMMERCE_ORDER, ports)
    assert the_order(ports).cancellation.reason_code == "BuyerCanceled"


# ----------------------------------------------------------------------------- partial and over-shipments
def test_an_over_shipment_is_refused_with_a_note_and_never_confirmed():
    ports = channel_ports()
    waiting_unshipped_order(ports)
    # Given a Commerce shipment of 3 mugs for an Amazon order of 2
    ports.commerce.shipments[7] = CommerceShipment(
        id=7, order_id=COMMERCE_ORDER, carrier="UPS", tracking_number="1ZX", items=[("MUG-01", 3)]
    )
    # When the shipment event is handled
    with pytest.raises(OverShipment, match="3 x MUG-01"):
        record_commerce_shipment(COMMERCE_ORDER, 7, ports)
    # Then nothing is recorded to confirm, and both orders say why
    order = the_order(ports)
    assert order.shipments == [] and ports.workflows.woken == []
    assert order.notes.startswith("Commerce shipment 7 not confirmed to Amazon: it ships 3 x MUG-01")
    assert any("shipment 7 was not confirmed to Amazon" in c for c in comments(ports))


def test_each_partial_shipment_is_its_own_package_and_the_order_reads_partially_shipped():
    ports = channel_ports()
    intake(ports, AmazonStatus.UNSHIPPED, 2)
    ports.marketplace.add(ORDER, items=(("MUG-01", 2, "12.50", "2.00"), ("TEA-02", 1, "5.00", "0.00")))
    mfn.fetch_order_details(ORDER, ports)
    mfn.create_commerce_order(ORDER, None, ports)
    # When the merchant ships one mug, then the rest
    ports.commerce.shipments[1] = CommerceShipment(
        id=1, order_id=COMMERCE_ORDER, carrier="UPS", tracking_number="1ZA", items=[("MUG-01", 1)]
    )
    record_commerce_shipment(COMMERCE_ORDER, 1, ports)
    assert mfn.confirm_shipments(ORDER, ports)["all_shipped"] is False
    assert the_order(ports).channel_status == ChannelStatus.PARTIALLY_SHIPPED
    ports.commerce.shipments[2] = CommerceShipment(
        id=2, order_id=COMMERCE_ORDER, carrier="UPS", tracking_number="1ZB", items=[("MUG-01", 1), ("TEA-02", 1)]
    )
    record_commerce_shipment(COMMERCE_ORDER, 2, ports)
    assert mfn.confirm_shipments(ORDER, ports)["all_shipped"] is True
    # Then Amazon had two packages, each with only its own items
    assert [c.items for c in ports.marketplace.confirmations] == [[("100", 1)], [("100", 1), ("101", 1)]]
