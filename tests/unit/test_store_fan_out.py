"""Several stores in one order sync run: each store's sync goes on beside the others, so a store
whose Amazon answers slowly, or whose credentials were revoked, never holds another store back."""

import contextvars
import threading

from amazon_channel.adapters.fan_out import ThreadFanOut
from amazon_channel.domain.errors import AmazonRejected
from amazon_channel.domain.models import StoreConfig
from amazon_channel.domain.order_sync import SyncPorts, SyncSettings, sync_stores
from fakes import MARKETPLACE, InMemoryOrders, Marketplace, SyncState, Workflows, channel_ports

CONNECTED = "2026-11-20T00:00:00.000000Z"
NOW = "2026-11-26T12:00:00.000000Z"
SLOW, BROKEN, HEALTHY = "A1SLOWSELLER01", "A2BROKENSELLER", "A3HEALTHYSELLR"


class Stores:
    """The stores table with several seller accounts."""

    def __init__(self, *sellers):
        self.stores = [StoreConfig(seller_id=s, marketplace_ids=[MARKETPLACE], connected_at=CONNECTED) for s in sellers]

    def find(self, seller_id, marketplace_id):
        return next((s for s in self.stores if s.seller_id == seller_id and marketplace_id in s.marketplace_ids), None)

    def connected(self):
        return list(self.stores)


class SellersOnAmazon:
    """Amazon answering each seller with its own orders; a seller's calls may wait on a gate or fail."""

    def __init__(self):
        self.shops: dict[str, Marketplace] = {}
        self.gates: dict[str, threading.Event] = {}
        self.revoked: set[str] = set()

    def shop(self, seller_id):
        return self.shops.setdefault(seller_id, Marketplace())

    def search_orders(self, seller_id, **kwargs):
        if seller_id in self.revoked:
            raise AmazonRejected("LWA token exchange refused (400 invalid_grant): the refresh token was revoked")
        if seller_id in self.gates and not self.gates[seller_id].wait(timeout=10):
            raise TimeoutError(f"{seller_id}'s answer never came")
        return self.shop(seller_id).search_orders(seller_id, **kwargs)


def three_stores():
    ports = channel_ports()
    amazon = SellersOnAmazon()
    for n, seller in enumerate((SLOW, BROKEN, HEALTHY)):
        amazon.shop(seller).add(f"113-000000{n}-0000001")
    sync = SyncPorts(
        orders=ports.orders,
        blocked=ports.orders,
        stores=Stores(SLOW, BROKEN, HEALTHY),
        search=amazon,
        workflows=ports.workflows,
        events=ports.events,
        state=SyncState(),
    )
    return amazon, sync


def run(sync, fan_out):
    reports = sync_stores(sync, SyncSettings(), "run-1", time_left=lambda: 999.0, clock=lambda: NOW, fan_out=fan_out)
    return {r.seller_id: r for r in reports}


def test_a_store_whose_amazon_answers_slowly_does_not_hold_back_another_stores_orders():
    amazon, sync = three_stores()
    amazon.gates[SLOW] = threading.Event()  # Given a store whose searchOrders answers only later
    healthy_recorded = threading.Event()

    class Recording(InMemoryOrders):
        def put_new(self, order, history):
            super().put_new(order, history)
            if order.seller_id == HEALTHY:
                healthy_recorded.set()
                amazon.gates[SLOW].set()  # the slow store's answer comes once the healthy order is in

    orders = Recording()
    sync.orders = sync.blocked = orders
    reports = run(sync, ThreadFanOut())  # When one sync run handles every store
    assert healthy_recorded.is_set()  # Then the healthy store's order was recorded while the slow one waited
    assert {s: r.result for s, r in reports.items()} == {SLOW: "complete", BROKEN: "complete", HEALTHY: "complete"}
    assert set(orders.items) == {"113-0000000-0000001", "113-0000001-0000001", "113-0000002-0000001"}


def test_a_store_whose_refresh_token_was_revoked_fails_alone_and_the_others_are_synced():
    amazon, sync = three_stores()
    amazon.revoked.add(BROKEN)  # Given a seller who removed the app's authorisation
    reports = run(sync, ThreadFanOut())  # When the sync runs
    assert reports[BROKEN].result == "failed" and "invalid_grant" in reports[BROKEN].reason  # Then it fails alone
    assert reports[SLOW].result == reports[HEALTHY].result == "complete"  # and the others' orders come in
    assert set(sync.orders.items) == {"113-0000000-0000001", "113-0000002-0000001"}
    assert isinstance(sync.workflows, Workflows) and len(sync.workflows.started) == 2


def test_the_reports_come_in_the_stores_order_whichever_finishes_first():
    _amazon, sync = three_stores()
    assert list(run(sync, ThreadFanOut())) == [SLOW, BROKEN, HEALTHY]


def test_each_stores_sync_runs_with_the_callers_context():
    """The local stack's IAM principal (a context variable) holds in every store's thread."""
    who = contextvars.ContextVar("who", default=None)
    who.set("OrderSyncFunction")
    seen = ThreadFanOut()([who.get, who.get, lambda: threading.current_thread().name])
    assert seen[:2] == ["OrderSyncFunction", "OrderSyncFunction"] and seen[2].startswith("store")


def test_a_single_store_is_synced_on_the_callers_thread():
    assert ThreadFanOut()([lambda: threading.current_thread().name]) == [threading.current_thread().name]
