"""Order sync and blocked orders through the domain, with in-memory stand-ins (tests/fakes.py)."""

import json
from pathlib import Path

import pytest
from pydantic import ValidationError

from amazon_channel.contracts import OrderSyncRequest
from amazon_channel.domain import mfn_workflow as mfn
from amazon_channel.domain.errors import AmazonRejected, CommerceRejected, OrderBlocked, VersionConflict
from amazon_channel.domain.fba_import import import_fba_order
from amazon_channel.domain.intake import IntakePorts, record_order_change
from amazon_channel.domain.models import AmazonStatus, ChannelStatus, OrderChange, OrderLine
from amazon_channel.domain.order_sync import SyncPorts, SyncSettings, continue_later, retry_order, sync_store
from amazon_channel.domain.sync_state import SyncCursor
from amazon_channel.domain.sync_state import SyncState as SyncStateModel
from fakes import MARKETPLACE, SELLER, SyncState, channel_ports

CONNECTED = "2026-11-20T00:00:00.000000Z"
NOW = "2026-11-26T12:00:00.000000Z"
A, B, C = "113-0000000-0000001", "113-0000000-0000002", "113-0000000-0000003"


class Parking:
    def __init__(self):
        self.parked: list[tuple[str, str, str]] = []

    def park(self, body, reason, source):
        self.parked.append((body, reason, source))


def a_store(**settings):
    """A connected store (since CONNECTED) and its sync's ports."""
    ports = channel_ports(**settings)
    ports.stores.store.connected_at = CONNECTED
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


def on_amazon(
    ports,
    oid,
    status=AmazonStatus.UNSHIPPED,
    updated="2026-11-26T10:00:00.000000Z",
    purchased="2026-11-26T09:00:00.000000Z",
    fulfillment="MFN",
):
    """The order as Amazon has it now (what searchOrders and getOrder answer)."""
    ports.marketplace.add(oid, fulfillment=fulfillment)
    ports.marketplace.orders[oid] = ports.marketplace.orders[oid].model_copy(
        update={"status": status, "last_updated": updated, "purchase_date": purchased}
    )


def run(sync, owner="run-1", settings=None, now=NOW):
    return sync_store(
        sync.stores.store, sync, settings or SyncSettings(), owner, time_left=lambda: 999.0, clock=lambda: now
    )


def notified(ports, oid, status, at, purchased="2026-11-26T09:00:00.000000Z"):
    change = OrderChange(
        amazon_order_id=oid,
        seller_id=SELLER,
        marketplace_id=MARKETPLACE,
        status=status,
        fulfillment="MFN",
        changed_at=at,
        purchase_date=purchased,
        lines=[OrderLine(order_item_id="100", sku="MUG-01", qty=2)],
    )
    return record_order_change(change, IntakePorts(ports.orders, ports.stores, ports.workflows, ports.events))


def blocked(ports, oid, cause='Product "MUG-01" cannot be ordered: insufficient stock.'):
    """The order's workflow failed: it is in Error (RecordOrderError)."""
    mfn.record_order_error(oid, "CommerceRejected", json.dumps({"errorMessage": cause}), ports)


# -- order sync ------------------------------------------------------------------------------------
def test_orders_whose_notifications_were_lost_are_imported_by_the_sync_with_no_getorder():
    ports, sync = a_store()
    on_amazon(ports, A)  # Given two paid orders on Amazon whose notifications never came
    on_amazon(ports, B, updated="2026-11-26T10:05:00.000000Z")
    report = run(sync)  # When the sync runs
    assert report.result == "complete" and report.orders["recorded"] == 2  # Then both are recorded
    assert ports.workflows.started == {A, B}  # and their workflows started, through the same intake
    assert [h.data.get("source") for h in ports.orders.history(A) if h.kind == "status"] == ["sync"]
    mfn.fetch_order_details(A, ports)  # And the import needs no getOrder: searchOrders brought the details
    assert ports.marketplace.get_calls == 0 and ports.orders.get(A).details.buyer_name == "Ana Souza"


def test_an_order_seen_by_notification_and_by_sync_is_one_order():
    ports, sync = a_store()
    on_amazon(ports, A)
    notified(ports, A, AmazonStatus.UNSHIPPED, "2026-11-26T10:00:00.000000Z")  # Given the notification came
    report = run(sync)  # When the sync sees the same change
    assert report.orders == {"duplicate": 1}  # Then it is the same order, one workflow
    assert ports.workflows.started == {A}
    assert [h.kind for h in ports.orders.history(A)] == ["status", "step", "sp-api"]  # only the details were added


def test_details_seen_while_pending_are_read_again_once_the_order_is_paid():
    ports, sync = a_store()
    on_amazon(ports, A, status=AmazonStatus.PENDING)  # Given the sync saw the order while Pending
    run(sync)
    assert ports.orders.get(A).details.status == AmazonStatus.PENDING and not ports.orders.get(A).visible
    notified(ports, A, AmazonStatus.UNSHIPPED, "2026-11-26T10:30:00.000000Z")  # When Amazon verifies payment
    mfn.fetch_order_details(A, ports)  # Then the import reads the paid order (buyer, address) once
    assert ports.marketplace.get_calls == 1


def test_orders_placed_before_the_store_was_connected_are_never_imported():
    ports, sync = a_store()
    on_amazon(ports, A, purchased="2026-11-19T23:59:00.000000Z")  # Given an order placed before connecting
    assert run(sync).orders == {"before-connection": 1}  # When the sync sees it, it is left alone
    outcome = notified(
        ports, A, AmazonStatus.UNSHIPPED, "2026-11-26T10:00:00.000000Z", purchased="2026-11-19T23:59:00.000000Z"
    )  # and so is its notification
    assert outcome.result == "before-connection"
    assert ports.orders.get(A) is None and ports.workflows.started == set()


def test_each_window_starts_at_the_watermark_minus_the_margin_never_before_the_connection():
    ports, sync = a_store()
    on_amazon(ports, A, updated="2026-11-26T10:00:00.000000Z")
    run(sync)  # Given a first sync: from the connection on
    assert ports.marketplace.search_calls == [(CONNECTED, None)]
    assert sync.state.load(SELLER).watermark == "2026-11-26T10:00:00.000000Z"  # the newest change handled
    run(sync, owner="run-2")  # When the next sync runs
    assert ports.marketplace.search_calls[-1] == ("2026-11-26T09:50:00.000000Z", None)  # Then 10 minutes overlap


def test_a_sync_cut_short_by_the_quota_resumes_at_its_page_and_moves_the_watermark_only_when_done():
    ports, sync = a_store()
    for n, oid in enumerate((A, B, C, "113-0000000-0000004", "113-0000000-0000005")):
        on_amazon(ports, oid, updated=f"2026-11-26T10:0{n}:00.000000Z")
    ports.marketplace.search_quota = 2  # Given a searchOrders budget of two calls, and pages of two orders
    small = SyncSettings(page_size=2)
    first = run(sync, settings=small)  # When the sync runs out of quota after two pages
    assert first.result == "resumable" and "quota" in first.reason
    state = sync.state.load(SELLER)
    assert state.watermark is None and state.cursor.page_token == "4"  # Then it keeps its place, not the watermark
    ports.marketplace.search_quota = None
    second = run(sync, owner="run-2", settings=small)  # And the next run goes on from that page
    assert second.result == "complete" and ports.marketplace.search_calls[-1] == (CONNECTED, "4")
    assert len(ports.orders.items) == 5 and sync.state.load(SELLER).watermark == "2026-11-26T10:04:00.000000Z"


def test_an_order_that_cannot_be_handled_now_keeps_its_page_for_the_next_run():
    ports, sync = a_store()
    on_amazon(ports, A)
    on_amazon(ports, B, updated="2026-11-26T10:01:00.000000Z")
    put_new = ports.orders.put_new
    ports.orders.put_new = lambda order, history: False if order.amazon_order_id == B else put_new(order, history)
    report = run(sync)  # When B keeps conflicting (a transient failure)
    assert report.result == "resumable" and "VersionConflict" in report.reason
    assert sync.state.load(SELLER) is None  # Then nothing is marked done: no watermark, same page
    ports.orders.put_new = put_new
    assert run(sync, owner="run-2").result == "complete"  # And the next run handles the whole page again
    assert set(ports.orders.items) == {A, B} and ports.workflows.started == {A, B}


def test_two_syncs_of_a_store_never_run_at_once_but_an_expired_lease_is_taken_over():
    ports, sync = a_store()
    on_amazon(ports, A)
    sync.state.acquire_lease(SELLER, "crashed-run", "2026-11-26T11:59:00.000000Z", "2026-11-26T12:04:30.000000Z")
    assert run(sync).result == "busy" and ports.marketplace.search_calls == []  # Given another run's lease
    assert run(sync, now="2026-11-26T12:05:00.000000Z").result == "complete"  # When it has expired
    assert sync.state.leases == {}  # Then the lease is taken, used and released


def test_a_stale_sync_snapshot_never_moves_an_order_backwards():
    ports, sync = a_store()
    notified(ports, A, AmazonStatus.UNSHIPPED, "2026-11-26T10:00:00.000000Z")
    notified(ports, A, AmazonStatus.CANCELED, "2026-11-26T10:10:00.000000Z")  # Given the order was canceled
    on_amazon(ports, A, updated="2026-11-26T10:00:00.000000Z")  # When the sync's older view says Unshipped
    assert run(sync).orders == {"stale": 1}
    assert ports.orders.get(A).channel_status == ChannelStatus.CANCELED  # Then it stays Canceled


def test_a_page_token_amazon_no_longer_accepts_restarts_the_window():
    ports, sync = a_store()
    on_amazon(ports, A)
    sync.state.save(
        SyncStateModel(
            seller_id=SELLER,
            version=1,
            cursor=SyncCursor(after=CONNECTED, page_token="expired", started_at="2026-11-26T11:00:00.000000Z"),
        )
    )
    search = ports.marketplace.search_orders

    def refuse_tokens(seller_id, **kw):
        if kw.get("pagination_token"):
            raise AmazonRejected("searchOrders answered 400 InvalidInput: Invalid paginationToken.")
        return search(seller_id, **kw)

    ports.marketplace.search_orders = refuse_tokens
    assert run(sync).result == "complete" and ports.orders.get(A) is not None


def test_an_order_intake_refuses_for_good_is_parked_with_its_reason_and_the_sync_goes_on():
    ports, sync = a_store()
    on_amazon(ports, A)
    on_amazon(ports, B, updated="2026-11-26T10:01:00.000000Z")
    find = ports.stores.find
    ports.stores.find = lambda seller, marketplace: None  # the store was disconnected meanwhile
    report = run(sync)
    assert report.result == "complete" and report.orders == {"parked": 2}
    body, reason, source = sync.parking.parked[0]
    assert reason.startswith("UnknownStore: seller") and source == "order-sync" and A in body
    ports.stores.find = find


# -- blocked orders ------------------------------------------------------------------------------------
def test_every_sync_retries_a_blocked_order_with_a_new_execution_until_it_goes_through():
    ports, sync = a_store()
    notified(ports, A, AmazonStatus.UNSHIPPED, "2026-11-26T10:00:00.000000Z")
    blocked(ports, A)  # Given an order blocked: its product is out of stock
    order = ports.orders.get(A)
    assert (
        order.channel_status == ChannelStatus.ERROR
        and '"MUG-01"' in order.notes
        and "insufficient stock" in order.notes
    )
    report = run(sync)  # When the sync runs
    assert [(r.result, r.attempt) for r in report.retries] == [("retried", 1)]  # Then it starts a second attempt
    assert ports.workflows.started == {A, f"{A}-retry1"}
    assert ports.orders.get(A).channel_status == ChannelStatus.UNSHIPPED and ports.orders.blocked(SELLER) == []
    blocked(ports, A)  # And when that attempt fails too, the next sync makes a third
    assert [(r.result, r.attempt) for r in run(sync, owner="run-2").retries] == [("retried", 2)]
    assert run(sync, owner="run-3").retries == []  # and an order that went through is not retried


def test_two_retries_at_once_make_one_attempt():
    ports, sync = a_store()
    notified(ports, A, AmazonStatus.UNSHIPPED, "2026-11-26T10:00:00.000000Z")
    blocked(ports, A)
    first, second = retry_order(A, sync), retry_order(A, sync)  # `amazon-channel retry` twice
    assert (first.result, second.result) == ("retried", "not-blocked")
    assert ports.workflows.started == {A, f"{A}-retry1"}


def test_a_retry_whose_start_was_lost_is_started_by_the_next_sync():
    ports, sync = a_store()
    notified(ports, A, AmazonStatus.UNSHIPPED, "2026-11-26T10:00:00.000000Z")
    blocked(ports, A)
    start = ports.workflows.start
    ports.workflows.start = lambda *a, **k: (_ for _ in ()).throw(VersionConflict("the function died here"))
    assert run(sync).retries[0].result == "failed"  # Given a retry that died before starting its execution
    ports.workflows.start = start
    retries = run(sync, owner="run-2").retries  # When the next sync runs
    assert [(r.result, r.attempt) for r in retries] == [("restarted", 1)]  # Then it starts that same attempt
    assert ports.workflows.started == {A, f"{A}-retry1"} and ports.orders.blocked(SELLER) == []


def test_a_retry_that_fails_at_once_stays_marked_for_the_next_sync():
    ports, sync = a_store()
    notified(ports, A, AmazonStatus.UNSHIPPED, "2026-11-26T10:00:00.000000Z")
    blocked(ports, A)
    start = ports.workflows.start

    def start_and_fail(oid, payload, attempt=0):  # the new execution fails before the retry is done
        start(oid, payload, attempt)
        blocked(ports, oid)

    ports.workflows.start = start_and_fail
    run(sync)
    assert ports.orders.blocked(SELLER) == [(A, 1)]  # the newer failure's mark is not dropped


def test_a_blocked_order_canceled_on_amazon_is_not_retried():
    ports, sync = a_store()
    notified(ports, A, AmazonStatus.UNSHIPPED, "2026-11-26T10:00:00.000000Z")
    blocked(ports, A)
    notified(ports, A, AmazonStatus.CANCELED, "2026-11-26T10:10:00.000000Z")  # Given the buyer canceled it
    assert [r.result for r in run(sync).retries] == ["not-blocked"]  # Then the sync only drops its mark
    assert ports.workflows.started == {A} and ports.orders.blocked(SELLER) == []


# -- blocked FBA orders (issue 11, case 10) ---------------------------------------------------------
DISABLED = 'Product "MUG-01" cannot be ordered: disabled.'


def shipped_by_amazon(ports, oid):
    """Amazon shipped an FBA order; the channel recorded it and announced its import."""
    on_amazon(ports, oid, status=AmazonStatus.SHIPPED, fulfillment="AFN")
    change = OrderChange(
        amazon_order_id=oid,
        seller_id=SELLER,
        marketplace_id=MARKETPLACE,
        status=AmazonStatus.SHIPPED,
        fulfillment="AFN",
        changed_at="2026-11-26T10:00:00.000000Z",
        purchase_date="2026-11-26T09:00:00.000000Z",
        lines=[OrderLine(order_item_id="100", sku="MUG-01", qty=2)],
    )
    record_order_change(change, IntakePorts(ports.orders, ports.stores, ports.workflows, ports.events))
    ports.events.published.clear()


def product_disabled(ports):
    """Commerce refuses the product: the catalog check names the SKU. Returns the attempts made."""
    attempts = []
    create = ports.commerce.create_order

    def refuse(draft):
        attempts.append(draft.amazon_order_id)
        if ports.commerce.refusing:
            raise CommerceRejected(DISABLED)
        return create(draft)

    ports.commerce.refusing = True
    ports.commerce.create_order = refuse
    return attempts


def fba_import(ports, oid):
    """What the FBA import function makes of one delivery: imported, blocked (newly) or still blocked."""
    try:
        return import_fba_order(oid, ports)
    except OrderBlocked as e:
        return "blocked" if e.newly else "still blocked"


def test_an_fba_order_commerce_refuses_shows_error_naming_the_sku_as_an_mfn_order_does():
    ports, _sync = a_store()
    product_disabled(ports)
    shipped_by_amazon(ports, B)  # Given an FBA order Amazon shipped, whose product Commerce has disabled
    notified(ports, A, AmazonStatus.UNSHIPPED, "2026-11-26T10:00:00.000000Z")  # and the same order placed MFN
    blocked(ports, A, cause=DISABLED)
    assert fba_import(ports, B) == "blocked"  # When the FBA import runs
    fba, mfn_order = ports.orders.get(B), ports.orders.get(A)  # Then it shows Error with the SKU and the cause
    assert fba.channel_status == mfn_order.channel_status == ChannelStatus.ERROR
    assert fba.notes == mfn_order.notes == f"Could not be imported: CommerceRejected: {DISABLED}"
    assert ports.orders.blocked(SELLER) == [(A, 0), (B, 0)] and fba.commerce is None  # and both wait for the sync


def test_every_sync_retries_a_blocked_fba_order_once_per_attempt_until_commerce_takes_it():
    ports, sync = a_store()
    attempts = product_disabled(ports)
    shipped_by_amazon(ports, B)
    assert fba_import(ports, B) == "blocked"  # Given a blocked FBA order
    assert fba_import(ports, B) == "still blocked" and attempts == [B]  # a redelivery asks Commerce nothing
    report = run(sync)  # When the sync runs
    assert [(r.result, r.attempt) for r in report.retries] == [("retried", 1)]  # Then it announces a new attempt
    # (the sync's searchOrders also sees the order, not yet in Commerce, and announces it again)
    assert {(t, d["amazon_order_id"]) for t, d in ports.events.published} == {("FbaOrderShipped", B)}
    order = ports.orders.get(B)
    assert order.channel_status == ChannelStatus.SHIPPED and order.notes.startswith("Import retried (attempt 2)")
    assert [fba_import(ports, B), fba_import(ports, B)] == ["blocked", "still blocked"]  # delivered twice, tried once
    assert attempts == [B, B] and ports.orders.blocked(SELLER) == [(B, 1)]
    ports.commerce.refusing = False  # When the merchant enables the product, the next sync's attempt imports it
    assert [(r.result, r.attempt) for r in run(sync, owner="run-2").retries] == [("retried", 2)]
    assert fba_import(ports, B) == "imported"
    order = ports.orders.get(B)
    assert order.channel_status == ChannelStatus.SHIPPED and order.commerce.status == "complete"
    assert len(ports.commerce.orders) == 1 and run(sync, owner="run-3").retries == []  # once, and done


def test_a_blocked_fba_retry_whose_announcement_was_lost_is_announced_by_the_next_sync():
    ports, sync = a_store()
    product_disabled(ports)
    shipped_by_amazon(ports, B)
    fba_import(ports, B)
    publish = ports.events.publish
    ports.events.publish = lambda *a: (_ for _ in ()).throw(VersionConflict("the function died here"))
    assert run(sync).retries[0].result == "failed"  # Given a retry that died before its FbaOrderShipped
    ports.events.publish = publish
    retries = run(sync, owner="run-2").retries  # When the next sync runs
    assert [(r.result, r.attempt) for r in retries] == [("restarted", 1)]  # Then it announces that same attempt
    assert ports.orders.get(B).workflow_started and ports.orders.blocked(SELLER) == []
    assert run(sync, owner="run-3").retries == []  # and only once


def test_the_order_sync_samples_are_what_its_handler_accepts():
    events = Path(__file__).resolve().parents[2] / "events" / "order_sync"
    assert OrderSyncRequest.model_validate(json.loads((events / "schedule.json").read_text())).trigger == "schedule"
    assert OrderSyncRequest.model_validate(json.loads((events / "retry.json").read_text())).amazon_order_id == A
    with pytest.raises(ValidationError, match="amazon_order_id is missing"):
        OrderSyncRequest.model_validate({"trigger": "retry"})


def test_a_run_cut_short_by_the_searchorders_quota_continues_once_the_quota_has_a_page():
    ports, sync = a_store()
    on_amazon(ports, A)
    ports.marketplace.search_quota = 0  # Given the store's searchOrders quota is used up
    report = run(sync)  # When the sync runs
    assert report.result == "resumable" and report.resume_after == pytest.approx(178.6)  # Then it stops at once
    assert continue_later([report], sync.state, NOW) == [(SELLER, pytest.approx(178.6))]  # and continues then
    # And a run of the schedule cut short meanwhile sends no second continuation: one is pending per store
    assert continue_later([run(sync, owner="run-2")], sync.state, "2026-11-26T12:01:00.000000Z") == []
    assert continue_later([run(sync, owner="run-3")], sync.state, "2026-11-26T12:03:00.000000Z") != []
