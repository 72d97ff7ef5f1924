"""Order sync, blocked orders and several Amazon stores, on the embedded stack: the real order sync
function (as the schedule runs it), the real intake, workflow and table, the simulated Amazon's
searchOrders with its rate limit (0.0056/s, burst 20).

One stack serves the module; each story places its own orders. A second store (another seller
account, in Canada, with its own settings and Commerce store view) is connected for the module.
"""

from __future__ import annotations

import io
import itertools
import json
from datetime import timedelta

import pytest
import urllib3

from amazon_channel.adapters.sync_state import DynamoDbSyncState
from amazon_channel.domain.clock import iso
from amazon_channel_local.player import DEFAULT_SELLER, Player
from amazon_channel_local.scenario import Step, parse
from stack_stories import a_quiet_spell, end_waiting_workflows, orders

SCENARIO = {
    "name": "order sync and stores",
    "settings": {"customer_creation": "guest", "order_number_source": "commerce"},
    "catalog": [
        {"sku": "MUG-01", "name": "Blue mug", "price": "12.50", "qty": 1000},
        {"sku": "RUG-03", "name": "Wool rug", "price": "80.00", "qty": 0},
    ],
    "steps": [],
}
CANADA_SELLER, CANADA = "A2SIMSELLER0002", "A2EUQ1WTGCTBG2"
UNCONNECTED_SELLER = "A3SIMSELLER0003"
_numbers = itertools.count(1)


# -- the stage ------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def player():
    with Player(parse(SCENARIO, "test_order_sync_and_stores.py"), log_stream=io.StringIO(), time_scale=0.01) as p:
        connect_a_second_store(p)
        yield p


@pytest.fixture(autouse=True)
def quiet_spell(player):
    """Each story starts with Amazon's quotas and the channel's budgets full (as after a quiet spell)."""
    a_quiet_spell(player)


@pytest.fixture(autouse=True)
def _each_story(player):
    yield
    end_waiting_workflows(player)


def connect_a_second_store(player: Player) -> None:
    """The merchant connects a second seller account (Amazon.ca): its refresh token goes into the
    SP-API secret, its store item into the stores table, with its own settings and store view."""
    player.amazon.add_seller(CANADA_SELLER)
    player.amazon.add_seller(UNCONNECTED_SELLER)  # authorised on Amazon, never connected to the channel
    player.stack.client("secretsmanager").put_secret_value(
        SecretId=player.stack.resources["SpApiCredentialsSecret"], SecretString=json.dumps(player.amazon.credentials)
    )
    store = {
        "seller_id": CANADA_SELLER,
        "marketplace_ids": [CANADA],
        "commerce_website_id": 1,
        "commerce_store_id": 2,
        "settings": {"customer_creation": "create", "order_number_source": "amazon"},
        "connected_at": player.connected_at,
    }
    player.stack.client("dynamodb").put_item(
        TableName=player.stack.resources["StoresTable"],
        Item={"id": {"S": CANADA_SELLER}, "value": {"S": json.dumps(store)}},
    )


def a_paid_order(player: Player, sku: str = "MUG-01", seller: str | None = None, marketplace: str | None = None) -> str:
    """A buyer orders and Amazon verifies the payment (notifications sent, unless being lost)."""
    oid = f"115-{next(_numbers):07d}-3000003"
    order = {
        "id": oid,
        "buyer": {"name": "Ana Souza", "email": f"ana{oid[4:11]}@example.com"},
        "items": [{"sku": sku, "qty": 1, "price": "12.50"}],
    }
    if marketplace:
        order["marketplace"] = marketplace
    place = parse({"steps": [{"do": "amazon.place_order", "order": order}]}, "story").steps[0]
    player.scenario.steps.append(place)  # so that player.result() reports it
    if seller:
        player.amazon.place_order({**order, "seller_id": seller})
    else:
        player.run(place)
    player.run(Step(0, "amazon.verify_payment", {"order_id": oid}))
    return oid


def notifications_lost(player: Player, enabled: bool) -> None:
    player.run(Step(0, "amazon.lose_notifications", {"enabled": enabled}))


def poll(player: Player) -> dict:
    """The scheduled sync runs now; its report per store."""
    return {s["seller_id"]: s for s in player.poll()["stores"]}


def the_order(player: Player, oid: str) -> dict:
    return next(o for o in player.result()["orders"] if o["amazon_order_id"] == oid)


def sync_state(player: Player) -> DynamoDbSyncState:
    return DynamoDbSyncState(player.stack.resources["OrdersTable"], player.stack.client("dynamodb"))


def executions(player: Player, oid: str) -> list[str]:
    return sorted(e["name"] for e in player.stack.executions() if json.loads(e["input"])["amazon_order_id"] == oid)


def get_order_calls(player: Player) -> int:
    return player.amazon.call_counts["getOrder"]


def commerce_order(player: Player, oid: str) -> dict:
    """The Commerce order as Commerce's REST API shows it (store view included)."""
    summary = player.commerce.order_by_ext_id(oid)
    url = f"{player.commerce.base_url}/rest/V1/orders/{summary['order_id']}"
    reply = urllib3.request("GET", url, headers={"Authorization": player.commerce.sign("GET", url)})
    return json.loads(reply.data)


def parked(player: Player) -> list[dict]:
    sqs, url, out = player.stack.client("sqs"), player.stack.queue_url("NotificationsDeadLetterQueue"), []
    while msgs := sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, MessageAttributeNames=["All"]).get(
        "Messages"
    ):
        for m in msgs:
            out.append({"body": m["Body"], **{k: v["StringValue"] for k, v in m["MessageAttributes"].items()}})
            sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
    return out


# -- order sync ------------------------------------------------------------------------------------
def test_a_poll_imports_an_order_whose_notifications_were_lost_and_needs_no_getorder(player):
    notifications_lost(player, True)
    oid = a_paid_order(player)  # Given a paid order whose notifications were lost
    notifications_lost(player, False)
    player.stack.settle()
    assert the_order(player, oid)["channel_status"] is None
    calls = get_order_calls(player)
    report = poll(player)[DEFAULT_SELLER]  # When the scheduled sync runs
    player.stack.settle()
    assert report["result"] == "complete" and report["orders"]["recorded"] >= 1
    order = the_order(player, oid)  # Then the order is imported like any other
    assert (order["channel_status"], order["commerce_order"]["status"]) == ("Unshipped", "processing")
    assert get_order_calls(player) == calls  # with the details searchOrders brought: no getOrder
    assert executions(player, oid) == [f"mfn-{oid}"]


def test_notifications_and_polls_together_make_one_order(player):
    before = player.commerce.order_count
    oid = a_paid_order(player)  # Given an order whose notifications arrive
    player.stack.settle()
    poll(player)  # When the sync sees it too, twice, and Amazon redelivers a notification
    poll(player)
    player.run(Step(0, "amazon.redeliver_notifications", {}))
    player.stack.settle()
    assert player.commerce.order_count == before + 1  # Then it is one order, one workflow
    assert executions(player, oid) == [f"mfn-{oid}"]
    assert the_order(player, oid)["channel_status"] == "Unshipped"


def test_a_sync_never_runs_beside_another(player):
    now = player.clock.datetime()  # the scenario's clock, which the sync's lease is read on
    running = sync_state(player)
    assert running.acquire_lease(DEFAULT_SELLER, "the-running-sync", iso(now), iso(now + timedelta(minutes=4)))
    try:
        assert poll(player)[DEFAULT_SELLER]["result"] == "busy"  # Given a sync holds the lease: the next waits
    finally:
        running.release_lease(DEFAULT_SELLER, "the-running-sync")
    assert poll(player)[DEFAULT_SELLER]["result"] == "complete"  # Then, once released, it runs


def test_a_sync_cut_short_by_the_searchorders_quota_continues_once_the_quota_has_a_page(player):
    notifications_lost(player, True)
    oid = a_paid_order(player)  # Given a lost order, and the shared searchOrders budget used up
    notifications_lost(player, False)
    ddb, table = player.stack.client("dynamodb"), player.stack.resources["OrdersTable"]
    budget = {"pk": {"S": f"RATE#{DEFAULT_SELLER}#searchOrders"}, "sk": {"S": "BUDGET"}}
    ddb.put_item(
        TableName=table,
        Item={
            **budget,
            "tokens": {"N": "0.95"},  # a page again in 9 seconds
            "refilled_at": {"N": str(player.clock.time())},  # on the scenario's clock
            "ver": {"N": "99"},
        },
    )
    report = poll(player)[DEFAULT_SELLER]  # When the sync runs
    assert report["result"] == "resumable" and "quota" in report["reason"]  # Then it stops without a 429
    assert 0 < report["resume_after"] < 10 and player.amazon.call_counts["throttled"]["searchOrders"] == 0
    player.stack.settle()  # And once the budget has a page, the run's continuation (a delayed message) reads it
    continued = [i for i in player.stack.invocations if i["source"].startswith("sqs:") and "Sync" in i["logical_id"]]
    assert [i["ok"] for i in continued] == [True]
    assert the_order(player, oid)["channel_status"] == "Unshipped"


# -- blocked orders ---------------------------------------------------------------------------------
def test_a_blocked_order_is_retried_at_once_when_asked_and_imported_once_the_stock_is_there(player):
    oid = a_paid_order(player, sku="RUG-03")  # Given an order for a product out of stock
    player.stack.settle()
    blocked = the_order(player, oid)
    assert blocked["channel_status"] == "Error" and blocked["visible_in_orders_tab"]
    assert (
        blocked["notes"]
        == 'Could not be imported: CommerceRejected: Product "RUG-03" cannot be ordered: insufficient stock.'
    )
    player.run(Step(0, "catalog.set", {"sku": "RUG-03", "qty": 3}))  # When the merchant restocks it
    first, again = player.retry(oid), player.retry(oid)  # and retries it (twice, by impatience)
    player.stack.settle()
    assert (first["result"], again["result"]) == ("retried", "not-blocked")
    order = the_order(player, oid)  # Then it is imported once, by one new execution
    assert (order["channel_status"], order["commerce_order"]["status"]) == ("Unshipped", "processing")
    assert executions(player, oid) == [f"mfn-{oid}", f"mfn-{oid}-retry1"]
    assert poll(player)[DEFAULT_SELLER]["retried"] == []  # and the sync has nothing left to retry


def test_the_sync_retries_a_blocked_order_again_while_it_stays_blocked(player):
    player.run(Step(0, "catalog.set", {"sku": "RUG-03", "qty": 0}))
    oid = a_paid_order(player, sku="RUG-03")  # Given a blocked order
    player.stack.settle()
    for attempt in (1, 2):  # When two syncs run before the catalog is fixed
        retried = poll(player)[DEFAULT_SELLER]["retried"]
        player.stack.settle()
        assert [(r["amazon_order_id"], r["result"], r["attempt"]) for r in retried] == [(oid, "retried", attempt)]
    assert the_order(player, oid)["channel_status"] == "Error"  # Then each makes one attempt, still blocked
    assert executions(player, oid) == [f"mfn-{oid}", f"mfn-{oid}-retry1", f"mfn-{oid}-retry2"]


# -- several stores -----------------------------------------------------------------------------------
def test_each_store_imports_its_orders_with_its_own_settings_and_store_view(player):
    us = a_paid_order(player)  # Given an order in each connected store
    ca = a_paid_order(player, seller=CANADA_SELLER, marketplace=CANADA)
    player.stack.settle()
    us_order, ca_order = commerce_order(player, us), commerce_order(player, ca)
    assert us_order["increment_id"] != us and us_order["store_id"] == 1  # Then the US store: Commerce numbers
    assert ca_order["increment_id"] == ca and ca_order["store_id"] == 2  # the Canadian one: Amazon's, store view 2
    assert not ca_order.get("customer_is_guest") and ca_order["order_currency_code"] == "CAD"
    assert orders(player).get(ca).seller_id == CANADA_SELLER


def test_an_order_of_a_store_that_is_not_connected_is_parked_with_a_clear_reason(player):
    parked(player)
    unconnected = a_paid_order(player, seller=UNCONNECTED_SELLER)  # Given a seller never connected
    wrong_market = a_paid_order(
        player, seller=CANADA_SELLER, marketplace="ATVPDKIKX0DER"
    )  # and a marketplace not set up
    player.stack.settle()
    reasons = {
        json.loads(m["body"])["Payload"]["OrderChangeNotification"]["AmazonOrderId"]: m["reason"]
        for m in parked(player)
    }  # Then their notifications are parked, each with its reason
    assert (
        reasons[unconnected]
        == f"UnknownStore: seller {UNCONNECTED_SELLER} / marketplace ATVPDKIKX0DER is not a connected store"
    )
    assert (
        reasons[wrong_market]
        == f"UnknownStore: seller {CANADA_SELLER} / marketplace ATVPDKIKX0DER is not a connected store"
    )
    assert orders(player).get(unconnected) is None and orders(player).get(wrong_market) is None


def test_the_sync_runs_per_store_and_recovers_each_stores_lost_orders(player):
    notifications_lost(player, True)
    us = a_paid_order(player)  # Given a lost order in each store
    ca = a_paid_order(player, seller=CANADA_SELLER, marketplace=CANADA)
    notifications_lost(player, False)
    reports = poll(player)  # When the sync runs
    player.stack.settle()
    assert set(reports) == {DEFAULT_SELLER, CANADA_SELLER}  # Then each store is synced on its own
    assert all(r["result"] == "complete" for r in reports.values()), reports
    assert commerce_order(player, us)["store_id"] == 1 and commerce_order(player, ca)["increment_id"] == ca
    assert sync_state(player).load(CANADA_SELLER).watermark is not None
