"""Events to the ERP at least once: the outbox on the order, and what counts as delivered."""

import pytest

from amazon_channel.adapters.aws_messaging import EventBridgePublisher
from amazon_channel.domain.errors import EventsNotDelivered
from amazon_channel.domain.fba_import import import_fba_order
from amazon_channel.domain.intake import IntakePorts, record_order_change
from amazon_channel.domain.models import AmazonStatus, OrderChange, OrderLine
from fakes import MARKETPLACE, SELLER, channel_ports

ORDER = "114-0000000-0000002"


class Bus:
    """PutEvents as EventBridge answers it: an entry with an EventId, or with an ErrorCode."""

    def __init__(self, *answers):
        self.answers = list(answers)
        self.sent = []

    def put_events(self, Entries):
        self.sent.append(Entries)
        return self.answers.pop(0) if self.answers else {"FailedEntryCount": 0, "Entries": [{"EventId": "e-1"}]}


FAILED = {"FailedEntryCount": 1, "Entries": [{"ErrorCode": "InternalFailure", "ErrorMessage": "try again"}]}


def test_a_failed_entry_is_a_failure_although_put_events_did_not_raise():
    publisher = EventBridgePublisher("bus", Bus(FAILED))
    with pytest.raises(EventsNotDelivered, match="InternalFailure: try again"):
        publisher.publish("CommerceOrderCreated", {"amazon_order_id": ORDER})


def test_an_entry_without_an_event_id_is_not_taken_for_a_delivery():
    with pytest.raises(EventsNotDelivered):
        EventBridgePublisher("bus", Bus({"Entries": [{}]})).publish("CommerceOrderCreated", {})


class FailingEvents:
    def __init__(self, failures):
        self.failures = failures
        self.published = []

    def publish(self, detail_type, detail):
        if self.failures:
            self.failures -= 1
            raise EventsNotDelivered("EventBridge did not take it")
        self.published.append((detail_type, detail))


def an_fba_order_shipped(ports):
    record_order_change(
        OrderChange(
            amazon_order_id=ORDER,
            seller_id=SELLER,
            marketplace_id=MARKETPLACE,
            status=AmazonStatus.SHIPPED,
            fulfillment="AFN",
            changed_at="2026-11-26T10:00:00.000000Z",
            lines=[OrderLine(order_item_id="100", sku="MUG-01", qty=1, qty_shipped=1)],
        ),
        IntakePorts(ports.orders, ports.stores, ports.workflows, ports.events),
    )
    ports.marketplace.add(ORDER, fulfillment="AFN", buyer_name=None, buyer_email=None)


def test_an_import_whose_announcement_failed_announces_it_on_the_retry():
    ports = channel_ports()
    an_fba_order_shipped(ports)  # Given an FBA order Amazon shipped
    ports.events = FailingEvents(failures=1)
    # When the import's announcement fails once
    with pytest.raises(EventsNotDelivered):
        import_fba_order(ORDER, ports)
    assert ports.orders.get(ORDER).commerce is not None, "the Commerce order is recorded"
    assert [e.detail_type for e in ports.orders.get(ORDER).outbox] == ["CommerceOrderCreated"]
    # Then the retry, finding it already imported, still announces it, once
    assert import_fba_order(ORDER, ports) == "already-imported"
    assert [(t, d["event_id"]) for t, d in ports.events.published] == [
        ("CommerceOrderCreated", f"CommerceOrderCreated:{ORDER}")
    ]
    assert ports.orders.get(ORDER).outbox == []
    assert import_fba_order(ORDER, ports) == "already-imported"
    assert len(ports.events.published) == 1, "nothing is left to send"
    assert len(ports.commerce.orders) == 1
