"""One read per order, none waited for: the notification intake reads a paid order's details
(getOrder) or leaves them to the order sync's searchOrders pages, and defers instead of waiting."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from amazon_channel.adapters.aws_messaging import SqsDeferrals
from amazon_channel.adapters.rate_budget import InMemoryRateBudget
from amazon_channel.adapters.sp_api import OPERATIONS
from amazon_channel.domain.intake import IntakePorts, record_order_change
from amazon_channel.domain.models import AmazonStatus, OrderChange, OrderLine
from amazon_channel.domain.order_reads import Deferred, ReadDone, ReadPorts, ReadSettings, read_order_details
from amazon_channel.domain.sync_state import SyncCursor
from amazon_channel.domain.sync_state import SyncState as SyncStateModel
from fakes import MARKETPLACE, SELLER, SyncState, channel_ports

A, B = "113-0000000-0000001", "113-0000000-0000002"
PAID_AT = "2026-11-26T10:00:00.000000Z"


def a_store():
    ports = channel_ports()
    ports.stores.store.connected_at = "2026-11-20T00:00:00.000000Z"
    reads = ReadPorts(
        intake=IntakePorts(ports.orders, ports.stores, ports.workflows, ports.events),
        reads=ports.marketplace,
        plans=SyncState(),
    )
    return ports, reads


def paid(ports, oid, at=PAID_AT):
    """Amazon verified the buyer's payment; its notification is recorded, as the intake does."""
    ports.marketplace.add(oid)
    return amazon_says(ports, oid, AmazonStatus.UNSHIPPED, at)


def amazon_says(ports, oid, status, at):
    """Amazon's notification that order `oid` is now `status`, recorded as the intake does."""
    change = OrderChange(
        amazon_order_id=oid,
        seller_id=SELLER,
        marketplace_id=MARKETPLACE,
        status=status,
        fulfillment="MFN",
        changed_at=at,
        purchase_date="2026-11-26T09:00:00.000000Z",
        lines=[OrderLine(order_item_id="100", sku="MUG-01", qty=2)],
    )
    intake = IntakePorts(ports.orders, ports.stores, ports.workflows, ports.events, details_first=True)
    return record_order_change(change, intake)


def quota_used_up(ports, booked_ahead=0):
    """A backlog has taken every getOrder token (burst 30) just now, and booked some ahead."""
    for _ in range(30):
        assert ports.marketplace.book_read(SELLER, 0.0) == 0.0
    for _ in range(booked_ahead):
        assert ports.marketplace.book_read(SELLER, 3600.0) > 0.0


def sync_behind(reads, frontier, newest_unread):
    """The order sync is in the middle of a window, its frontier at `frontier`."""
    cursor = SyncCursor(after="2026-11-26T09:00:00.000000Z", newest_seen=frontier, started_at=PAID_AT)
    reads.plans.states[SELLER] = SyncStateModel(seller_id=SELLER, cursor=cursor, version=1)
    reads.plans.note_unread(SELLER, newest_unread)


def test_a_paid_order_is_read_at_once_and_its_workflow_started_after_the_read():
    ports, reads = a_store()
    outcome = paid(ports, A)  # Given a buyer's paid order, recorded from its notification
    assert not outcome.workflow_started and ports.workflows.started == set()  # no workflow without details yet
    read = read_order_details(A, reads, now=0.0)  # When the intake reads it
    assert read == ReadDone("fetched", workflow_started=True)  # Then getOrder read it, and the workflow started
    assert ports.marketplace.get_calls == 1 and ports.orders.get(A).details.buyer_name == "Ana Souza"


def test_an_order_the_sync_already_read_is_not_read_again():
    ports, reads = a_store()
    paid(ports, A)
    ports.orders.items[A].details = ports.marketplace.orders[A]  # Given the sync's page brought its details
    read = read_order_details(A, reads, now=0.0)  # When its notification is handled
    assert read == ReadDone("kept", workflow_started=True)  # Then its workflow starts with no getOrder
    assert ports.marketplace.get_calls == 0


def test_in_a_backlog_the_first_delivery_is_deferred_without_booking_and_the_order_is_noted():
    ports, reads = a_store()
    quota_used_up(ports, booked_ahead=1)
    paid(ports, A)  # Given a paid order while getOrder's quota is used up, and a token booked ahead
    read = read_order_details(A, reads, now=0.0)  # When its notification comes the first time
    assert read == Deferred(30.0, "getOrder quota in use: the backlog is planned first")  # Then it comes back later
    assert ports.marketplace.get_calls == 0 and reads.plans.unread[SELLER] == PAID_AT  # and the change is noted
    assert ports.marketplace.book_read(SELLER, 0.0) == pytest.approx(4.0)  # nothing more was booked


def test_a_token_due_in_a_moment_is_booked_at_once():
    ports, reads = a_store()
    quota_used_up(ports)
    paid(ports, A)  # Given a paid order while the next getOrder token is 2 seconds away
    read = read_order_details(A, reads, now=0.0)  # When its notification comes the first time
    assert read == Deferred(pytest.approx(2.0), "a getOrder token is booked", slot_at=pytest.approx(2.0))


def test_in_a_backlog_an_order_the_sync_reaches_first_is_left_to_the_sync():
    ports, reads = a_store()
    quota_used_up(ports)
    paid(ports, A, at="2026-11-26T10:00:10.000000Z")  # Given an order changed 10 s after the sync's frontier
    sync_behind(reads, frontier="2026-11-26T10:00:00.000000Z", newest_unread="2026-11-26T10:01:40.000000Z")
    read = read_order_details(A, reads, now=0.0, settled=True)  # When its notification comes back
    assert read == Deferred(300.0, "left to the order sync's searchOrders pages")  # Then the sync's page reads it
    assert ports.marketplace.get_calls == 0


@pytest.mark.parametrize(("minutes_since_its_last_page", "left_to_sync"), [(14, True), (16, False)])
def test_an_order_left_to_a_sync_that_saved_no_page_for_15_minutes_is_read_with_getorder(
    minutes_since_its_last_page, left_to_sync
):
    ports, reads = a_store()
    paid(ports, A, at="2026-11-26T10:00:10.000000Z")  # Given an order the sync's window would reach first
    sync_behind(reads, frontier="2026-11-26T10:00:00.000000Z", newest_unread="2026-11-26T10:01:40.000000Z")
    reads.plans.states[SELLER].last_run_at = "2026-11-26T10:05:00.000000Z"  # its last page saved then
    now = datetime(2026, 11, 26, 10, 5, tzinfo=UTC).timestamp() + 60 * minutes_since_its_last_page
    # When its notification comes back (the sync stuck, e.g. its function failing, since its last page)
    read = read_order_details(A, reads, now=now, settled=True)
    # Then within 15 minutes it is still left to the sync; after, getOrder reads it and its workflow starts
    if left_to_sync:
        assert read == Deferred(300.0, "left to the order sync's searchOrders pages")
    else:
        assert read == ReadDone("fetched", workflow_started=True) and ports.marketplace.get_calls == 1


def test_in_a_backlog_a_newer_order_books_a_getorder_token_and_is_read_when_it_is_due():
    ports, reads = a_store()
    quota_used_up(ports)
    paid(ports, B, at="2026-11-26T10:01:30.000000Z")  # Given an order among the newest of the backlog
    sync_behind(reads, frontier="2026-11-26T10:00:00.000000Z", newest_unread="2026-11-26T10:01:40.000000Z")
    read = read_order_details(B, reads, now=0.0, settled=True)  # When its notification comes back
    assert read == Deferred(pytest.approx(2.0), "a getOrder token is booked", slot_at=pytest.approx(2.0))
    assert ports.marketplace.book_read(SELLER, 0.0) == pytest.approx(4.0)  # the next caller waits behind it
    early = read_order_details(B, reads, now=1.0, slot_at=read.slot_at)  # Then, back too early, it waits again
    assert isinstance(early, Deferred) and early.slot_at == read.slot_at and ports.marketplace.get_calls == 0
    ports.marketplace.now = 2.0
    done = read_order_details(B, reads, now=2.0, slot_at=read.slot_at)  # and back on time, it reads on its token
    assert done == ReadDone("fetched", workflow_started=True) and ports.marketplace.get_calls == 1
    assert ports.marketplace.book_read(SELLER, 0.0) == pytest.approx(2.0)  # no second token was taken


def test_a_notification_handled_again_after_the_read_changes_nothing():
    ports, reads = a_store()
    paid(ports, A)
    read_order_details(A, reads, now=0.0)  # Given the order was read and its workflow started
    again = read_order_details(A, reads, now=5.0, slot_at=5.0)  # When a copy of its notification comes again
    assert again == ReadDone("not-needed")  # Then nothing is read, nothing started twice
    assert ports.marketplace.get_calls == 1 and ports.workflows.started == {A}


def test_a_booked_token_is_taken_from_the_budget_and_later_callers_wait_behind_it():
    now = [0.0]
    budget = InMemoryRateBudget(clock=lambda: now[0])
    key = f"{SELLER}#getOrder"
    assert budget.book(key, 0.5, 1, 0.0) == 0.0  # the one token of the burst, now
    assert budget.book(key, 0.5, 1, 10.0) == pytest.approx(2.0)  # the next, booked 2 s ahead
    assert budget.book(key, 0.5, 1, 3.0) == pytest.approx(4.0)  # beyond `within`: nothing booked
    assert budget.acquire(key, 0.5, 1) == pytest.approx(4.0)
    now[0] = 4.0
    assert budget.acquire(key, 0.5, 1) == 0.0


class SentMessages:
    def __init__(self):
        self.sent: list[dict] = []

    def send_message(self, **kwargs):
        self.sent.append(kwargs)


@pytest.mark.parametrize(("seconds", "delay"), [(0.2, 1), (2.0, 2), (2500.0, 900)])
def test_a_deferred_notification_is_sent_again_with_a_delay_sqs_allows(seconds, delay):
    sqs = SentMessages()
    made = SqsDeferrals("https://sqs.local/notifications", sqs).defer('{"n": 1}', seconds, {"read-settled": "1"})
    assert made == delay and sqs.sent[0]["DelaySeconds"] == delay  # SQS delays a message at most 15 minutes
    assert sqs.sent[0]["MessageBody"] == '{"n": 1}'
    assert sqs.sent[0]["MessageAttributes"] == {"read-settled": {"DataType": "String", "StringValue": "1"}}


def test_the_orders_are_split_by_amazons_documented_rates():
    _, _, search_rate, _ = OPERATIONS["searchOrders"]
    _, _, get_rate, _ = OPERATIONS["getOrder"]
    settings = ReadSettings()
    assert settings.search_orders_per_second == pytest.approx(search_rate * 100)  # 100 orders a page
    assert settings.get_orders_per_second == get_rate


def test_a_contended_budget_books_nothing_and_the_notification_comes_back_in_a_few_seconds():
    from amazon_channel.domain.errors import RateBudgetContended

    ports, reads = a_store()
    paid(ports, A)  # Given a paid order, and a getOrder budget so contended that no booking lands

    def contended(seller_id, within):
        raise RateBudgetContended("rate budget: 8 concurrent writers in a row")

    reads.reads.book_read = contended
    read = read_order_details(A, reads, now=0.0)  # When its notification is handled
    # Then it is deferred briefly, with no token it would later take as booked
    assert isinstance(read, Deferred) and 1.0 <= read.seconds <= 5.0 and read.slot_at is None
    assert read.reason.startswith("getOrder budget contended") and ports.marketplace.get_calls == 0


def test_a_notification_back_long_after_its_token_was_due_takes_a_free_token_before_reading():
    ports, reads = a_store()
    paid(ports, A)  # Given a paid order whose notification carries a token booked for t=0, back an hour late
    tokens_free = ports.marketplace.book_read(SELLER, 0.0) == 0.0  # (the bucket refilled meanwhile: one is free)
    assert tokens_free
    read = read_order_details(A, reads, now=3600.0, slot_at=0.0, settled=True)
    # Then it is read, on a token taken now (the old booking no longer holds one): the bucket counts it
    assert read == ReadDone("fetched", workflow_started=True)
    assert ports.marketplace.book_read(SELLER, 0.0) == 0.0  # 28 left of the burst of 30: two were taken in all
    for _ in range(27):
        ports.marketplace.book_read(SELLER, 0.0)
    assert ports.marketplace.book_read(SELLER, 0.0) > 0.0


def test_in_a_backlog_a_notification_back_late_is_read_on_its_booking():
    ports, reads = a_store()
    quota_used_up(ports, booked_ahead=5)
    paid(ports, A)  # Given a backlog (no token free, five booked ahead) and a notification 3 minutes late
    read = read_order_details(A, reads, now=180.0, slot_at=0.0, settled=True)
    # Then it is read on its booking (the bucket still counts it), without taking another
    assert read == ReadDone("fetched", workflow_started=True)
    assert ports.marketplace.book_read(SELLER, 0.0) == pytest.approx(12.0)  # still behind the 5 booked + 1


def test_a_booked_token_read_a_few_seconds_late_is_still_read_on():
    ports, reads = a_store()
    quota_used_up(ports)
    paid(ports, A)  # Given a token booked for t=0, the quota otherwise used up
    read = read_order_details(A, reads, now=20.0, slot_at=0.0, settled=True)  # When it comes back 20 s late
    assert read == ReadDone("fetched", workflow_started=True)  # Then it is read on that token


def test_an_order_canceled_while_its_read_failed_gets_no_workflow():
    from amazon_channel.domain.errors import AmazonUnavailable

    ports, reads = a_store()
    paid(ports, A)  # Given a paid order whose getOrder fails (Amazon down) while the buyer cancels it

    def down_while_canceled(seller_id, amazon_order_id):
        amazon_says(ports, A, AmazonStatus.CANCELED, "2026-11-26T10:00:05.000000Z")
        raise AmazonUnavailable("SP-API answered 503")

    reads.reads.read_booked = down_while_canceled
    read = read_order_details(A, reads, now=0.0)  # When its notification is handled
    # Then the failed read leaves nothing to a workflow: the order is canceled, none is started
    assert read == ReadDone("left to the workflow: AmazonUnavailable", workflow_started=False)
    assert ports.workflows.started == set()
