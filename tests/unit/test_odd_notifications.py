"""Notifications with odd dates or statuses: refused with the field and the problem, never believed
over Amazon's own order, and never moving an order past the end of Amazon's lifecycle."""

import copy
import json
from datetime import UTC, datetime, timedelta

import pytest

from amazon_channel.contracts import parse_notification
from amazon_channel.domain.clock import iso
from amazon_channel.domain.errors import InvalidNotification
from amazon_channel.domain.intake import MAX_CLOCK_SKEW, IntakePorts, record_order_change
from amazon_channel.domain.models import AmazonStatus, ChannelStatus, OrderChange, OrderLine
from amazon_channel_local.sp_api_models.schemas import notification_examples
from fakes import MARKETPLACE, SELLER, channel_ports

ORDER = "113-0000000-0000001"
TRIGGER = ("Payload", "OrderChangeNotification", "OrderChangeTrigger", "TimeOfOrderChange")
PURCHASE = ("Payload", "OrderChangeNotification", "Summary", "PurchaseDate")


def amazons_example(path: tuple[str, ...], value) -> str:
    """Amazon's ORDER_CHANGE example (from the model), with one field changed."""
    body = copy.deepcopy(notification_examples()[0])
    node = body
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    return json.dumps(body)


@pytest.mark.parametrize(
    "path, value, problem",
    [
        (TRIGGER, "yesterday", "not a date-time: 'yesterday'"),
        (TRIGGER, 20261126, "Input should be a valid string"),
        (PURCHASE, "26/11/2026", "not a date-time: '26/11/2026'"),
        (PURCHASE, "2026-11-26T09:00:00", "a date-time without a time zone: '2026-11-26T09:00:00'"),
        (("EventTime",), "", "not a date-time: ''"),
    ],
    ids=["word", "number", "local-format", "no-zone", "empty-event-time"],
)
def test_a_notification_whose_date_is_not_a_date_is_refused_naming_the_field(path, value, problem):
    with pytest.raises(InvalidNotification) as refused:
        parse_notification(amazons_example(path, value))
    assert refused.value.field == ".".join(path)
    assert str(refused.value) == f"invalid field {'.'.join(path)}: {problem}"


def test_an_unknown_status_is_refused_naming_the_field():
    status = ("Payload", "OrderChangeNotification", "Summary", "OrderStatus")
    with pytest.raises(InvalidNotification, match="unknown order status 'Teleported'") as refused:
        parse_notification(amazons_example(status, "Teleported"))
    assert refused.value.field == ".".join(status)


# -- dates in the future ---------------------------------------------------------------------
def change(status, changed_at, source="notification", purchase_date=None):
    return OrderChange(
        amazon_order_id=ORDER,
        seller_id=SELLER,
        marketplace_id=MARKETPLACE,
        status=status,
        fulfillment="MFN",
        changed_at=changed_at,
        purchase_date=purchase_date,
        source=source,
        lines=[OrderLine(order_item_id="100", sku="MUG-01", qty=2)],
    )


def intake(ports):
    return IntakePorts(orders=ports.orders, stores=ports.stores, workflows=ports.workflows, events=ports.events)


def from_now(**delta) -> str:
    return iso(datetime.now(UTC) + timedelta(**delta))


def test_a_notification_dated_2099_is_refused_and_the_real_unshipped_imports_the_order():
    ports = channel_ports()
    # Given a notification claiming the order changed in 2099
    with pytest.raises(
        InvalidNotification, match=r"TimeOfOrderChange 2099-01-01T00:00:00\.000000Z is .* ahead"
    ) as refused:
        record_order_change(change(AmazonStatus.PENDING, "2099-01-01T00:00:00.000000Z"), intake(ports))
    assert refused.value.field == ".".join(TRIGGER)
    assert ports.orders.get(ORDER) is None, "nothing is recorded from it"
    # When the real Unshipped arrives
    outcome = record_order_change(change(AmazonStatus.UNSHIPPED, from_now(seconds=-1)), intake(ports))
    # Then it is applied and the workflow starts
    assert outcome.result == "recorded" and outcome.workflow_started


def test_a_purchase_date_in_the_future_is_refused():
    ports = channel_ports()
    with pytest.raises(InvalidNotification, match="PurchaseDate") as refused:
        record_order_change(
            change(AmazonStatus.PENDING, from_now(), purchase_date="2099-01-01T00:00:00Z"), intake(ports)
        )
    assert refused.value.field == ".".join(PURCHASE)


def test_a_clock_a_little_ahead_is_tolerated():
    ports = channel_ports()
    ahead = from_now(seconds=MAX_CLOCK_SKEW.total_seconds() - 30)
    assert record_order_change(change(AmazonStatus.UNSHIPPED, ahead), intake(ports)).result == "recorded"
    assert ports.orders.get(ORDER).amazon_status_at == ahead


def test_the_sync_seeing_a_future_last_updated_time_takes_it_as_now():
    ports = channel_ports()
    # Given the sync reads the order from Amazon with a lastUpdatedTime in 2099
    record_order_change(change(AmazonStatus.UNSHIPPED, "2099-01-01T00:00:00.000000Z", source="sync"), intake(ports))
    order = ports.orders.get(ORDER)
    # Then the order is recorded as Amazon shows it, as of now, not 2099
    assert order.amazon_status == AmazonStatus.UNSHIPPED
    assert order.amazon_status_at <= from_now(seconds=1)
    # And a real later change still applies
    assert record_order_change(change(AmazonStatus.CANCELED, from_now(seconds=2)), intake(ports)).result == "advanced"


# -- Amazon's lifecycle ----------------------------------------------------------------------
def test_a_canceled_after_shipped_is_noted_and_ignored():
    ports = channel_ports()
    # Given an order Amazon shows Shipped
    record_order_change(change(AmazonStatus.UNSHIPPED, from_now(minutes=-10)), intake(ports))
    record_order_change(change(AmazonStatus.SHIPPED, from_now(minutes=-5)), intake(ports))
    # When a Canceled dated after the shipment arrives (twice)
    late_cancel = change(AmazonStatus.CANCELED, from_now(minutes=-1))
    outcomes = [record_order_change(late_cancel, intake(ports)) for _ in range(2)]
    # Then the order stays Shipped, with a note saying why the cancellation was ignored, noted once
    assert [o.result for o in outcomes] == ["ignored", "ignored"]
    order = ports.orders.get(ORDER)
    assert (order.amazon_status, order.channel_status) == (AmazonStatus.SHIPPED, ChannelStatus.SHIPPED)
    assert "Amazon cannot cancel a shipped order" in order.notes
    assert [e.kind for e in ports.orders.history(ORDER)].count("ignored") == 1


def test_a_shipped_after_canceled_is_noted_and_ignored():
    ports = channel_ports()
    record_order_change(change(AmazonStatus.PENDING, from_now(minutes=-10)), intake(ports))
    record_order_change(change(AmazonStatus.CANCELED, from_now(minutes=-5)), intake(ports))
    outcome = record_order_change(change(AmazonStatus.SHIPPED, from_now(minutes=-1)), intake(ports))
    assert outcome.result == "ignored"
    order = ports.orders.get(ORDER)
    assert order.channel_status == ChannelStatus.CANCELED and "a canceled order does not ship" in order.notes


# -- the order sync's view -------------------------------------------------------------------
SYNC_NOW = "2026-11-26T12:00:00.000000Z"


class Parking:
    def __init__(self):
        self.parked: list[tuple[str, str, str]] = []

    def park(self, body, reason, source):
        self.parked.append((body, reason, source))


def a_synced_store():
    from amazon_channel.domain.order_sync import SyncPorts
    from fakes import SyncState

    ports = channel_ports()
    ports.stores.store.connected_at = "2026-11-20T00:00:00.000000Z"
    sync = SyncPorts(
        orders=ports.orders,
        blocked=ports.orders,
        stores=ports.stores,
        search=ports.marketplace,
        workflows=ports.workflows,
        events=ports.events,
        state=SyncState(),
        parking=Parking(),
    )
    return ports, sync


def amazon_shows(ports, oid, updated, purchased="2026-11-26T09:00:00.000000Z"):
    ports.marketplace.add(oid)
    ports.marketplace.orders[oid] = ports.marketplace.orders[oid].model_copy(
        update={"status": AmazonStatus.UNSHIPPED, "last_updated": updated, "purchase_date": purchased}
    )


def sync_runs(sync):
    from amazon_channel.domain.order_sync import SyncSettings, sync_store

    return sync_store(sync.stores.store, sync, SyncSettings(), "run-1", time_left=lambda: 999.0, clock=lambda: SYNC_NOW)


def test_a_searched_order_dated_2099_is_imported_and_the_watermark_stays_at_the_run():
    ports, sync = a_synced_store()
    amazon_shows(ports, ORDER, updated="2099-01-01T00:00:00Z")  # Given Amazon's order says it changed in 2099
    report = sync_runs(sync)  # When the sync runs
    # Then the order is imported as Amazon shows it, and the next window starts from this run, not 2099
    assert report.orders["recorded"] == 1 and ports.orders.get(ORDER).channel_status == ChannelStatus.UNSHIPPED
    assert sync.state.load(SELLER).watermark == SYNC_NOW


def test_a_searched_order_whose_date_is_not_a_date_is_parked_and_the_sync_goes_on():
    ports, sync = a_synced_store()
    amazon_shows(ports, ORDER, updated="last Tuesday")
    amazon_shows(ports, "113-0000000-0000002", updated="2026-11-26T10:00:00Z")
    report = sync_runs(sync)
    assert report.result == "complete" and report.orders == {"parked": 1, "recorded": 1}
    [(body, reason, source)] = sync.parking.parked
    assert reason == "InvalidNotification: invalid field lastUpdatedTime: not a date-time: 'last Tuesday'"
    assert json.loads(body)["amazon_order_id"] == ORDER and source == "order-sync"
