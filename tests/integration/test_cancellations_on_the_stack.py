"""Cancellations both ways, buyers' cancellation requests and over-shipments, on the embedded stack:
the real handlers and state machine, the simulated Amazon (Feeds API included) and Commerce."""

from __future__ import annotations

import io
import itertools
import json

import pytest

from amazon_channel.adapters.cancellation_feed import COLUMNS, FEED_TYPE
from amazon_channel_local.player import Player
from amazon_channel_local.scenario import Step, parse
from stack_stories import orders

SCENARIO = {
    "name": "cancellations",
    "catalog": [
        {"sku": "MUG-01", "name": "Blue mug", "price": "12.50", "qty": 1000},
        {"sku": "TEA-02", "name": "Green tea", "price": "5.00", "qty": 1000},
    ],
    "steps": [],
}
_numbers = itertools.count(1)


# -- the stage: one embedded stack for the module, a fresh order per story -------------------------
@pytest.fixture(scope="module")
def player():
    with Player(parse(SCENARIO, "test_cancellations_on_the_stack.py"), log_stream=io.StringIO(), time_scale=0.01) as p:
        yield p


@pytest.fixture(autouse=True)
def _each_story(player):
    yield
    player.amazon.feeds.hold(False)
    for execution in player.stack.executions():  # no story leaves a workflow waiting for the next one
        if execution["status"] == "RUNNING":
            order = orders(player).get(json.loads(execution["input"])["amazon_order_id"])
            if order is not None and order.task_token:
                player.stack.client("stepfunctions").send_task_failure(
                    taskToken=order.task_token, error="StoryOver", cause="the test story is over"
                )
    player.stack.settle()


def an_imported_order(player: Player, items=(("MUG-01", 2), ("TEA-02", 1))) -> str:
    """A buyer's paid order, imported: its Commerce order exists and its workflow waits for shipments."""
    oid = f"113-{next(_numbers):07d}-2000002"
    place = parse(
        {
            "steps": [
                {
                    "do": "amazon.place_order",
                    "order": {
                        "id": oid,
                        "buyer": {"name": "Ana Souza", "email": "ana@example.com"},
                        "items": [{"sku": sku, "qty": qty, "price": "5.00"} for sku, qty in items],
                    },
                }
            ]
        },
        "story",
    ).steps[0]
    player.scenario.steps.append(place)  # so that player.result() reports it
    player.run(place)
    player.run(Step(0, "amazon.verify_payment", {"order_id": oid}))
    player.stack.settle()
    assert the_order(player, oid)["commerce_order"]["status"] == "processing"
    return oid


def do(player: Player, verb: str, **args) -> None:
    player.run(Step(0, verb, args))
    player.stack.settle()


def the_order(player: Player, oid: str) -> dict:
    return next(o for o in player.result()["orders"] if o["amazon_order_id"] == oid)


def executions_of(player: Player, oid: str) -> list[dict]:
    return [e for e in player.stack.executions() if json.loads(e["input"])["amazon_order_id"] == oid]


def states_entered(player: Player, execution: dict) -> list[str]:
    return [
        e["stateEnteredEventDetails"]["name"]
        for e in player.stack.history(execution["executionArn"])
        if "stateEnteredEventDetails" in e
    ]


def feeds_for(player: Player, oid: str) -> list[dict]:
    return [f for f in player.amazon.feeds.feeds() if oid in f["content"]]


def parked(player: Player, queue: str) -> list[dict]:
    sqs, url, out = player.stack.client("sqs"), player.stack.queue_url(queue), []
    while msgs := sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, MessageAttributeNames=["All"]).get(
        "Messages"
    ):
        for m in msgs:
            out.append(
                {"body": m["Body"], **{k: v["StringValue"] for k, v in (m.get("MessageAttributes") or {}).items()}}
            )
            sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
    return out


# -- Amazon (or the buyer on Amazon) cancels --------------------------------------------------------
def test_amazon_cancels_an_unshipped_order_and_its_commerce_order_is_withdrawn_once(player):
    oid = an_imported_order(player)
    # When the buyer cancels on Amazon
    do(player, "amazon.cancel", order_id=oid)
    # Then the channel order is Canceled and its Commerce order withdrawn: Magento cannot cancel an
    # invoiced order, so it is closed by one offline credit memo, with a comment saying why
    order = the_order(player, oid)
    assert (order["amazon_status"], order["channel_status"]) == ("Canceled", "Canceled")
    assert order["commerce_order"]["status"] == "closed" and order["commerce_order"]["emails_sent_to_customer"] == 0
    assert (
        order["notes"]
        == f"Canceled on Amazon; Commerce order {order['commerce_order']['increment_id']} closed (refunded offline: it was invoiced)"
    )
    [memo] = player.commerce.credit_memos(oid)
    assert memo["grand_total"] == 15.0
    assert any("was canceled on Amazon" in c for c in player.commerce.comments(oid))
    # And the workflow ended cleanly: one execution, succeeded, no task token left on the order
    [execution] = executions_of(player, oid)
    assert execution["status"] == "SUCCEEDED"
    assert "CancelCommerceOrder" in states_entered(player, execution)
    assert orders(player).get(oid).task_token is None
    # And when Amazon delivers every notification again, nothing moves and nothing is withdrawn twice
    do(player, "amazon.redeliver_notifications")
    assert the_order(player, oid)["channel_status"] == "Canceled"
    assert len(player.commerce.credit_memos(oid)) == 1 and len(executions_of(player, oid)) == 1


# -- the merchant cancels in Commerce ------------------------------------------------------------------
def test_the_merchant_cancels_an_unshipped_order_from_commerce_and_amazon_cancels_it(player):
    oid = an_imported_order(player)
    player.commerce.create_compensations()
    mugs_before = player.commerce.product("MUG-01")["salable_qty"]
    # When the merchant cancels it in Commerce, giving a reason
    do(player, "commerce.cancel", order_id=oid, reason="Out of stock: the supplier let us down")
    # Then Amazon received one cancellation feed for the whole order, with the reason's code
    [feed] = feeds_for(player, oid)
    assert feed["feedType"] == FEED_TYPE and feed["processingStatus"] == "DONE"
    header, *rows = feed["content"].splitlines()
    assert header.split("\t") == list(COLUMNS)
    assert [r.split("\t")[0] for r in rows] == [oid, oid] and {r.split("\t")[2] for r in rows} == {"NoInventory"}
    assert "records successful\t\t2" in feed["report"]
    # And the order ends Canceled on Amazon and in the channel; Commerce closed it (credit memo)
    order = the_order(player, oid)
    assert (order["amazon_status"], order["channel_status"]) == ("Canceled", "Canceled")
    assert (
        order["notes"] == "Canceled from Commerce (Out of stock: the supplier let us down); Amazon canceled the order"
    )
    assert order["commerce_order"]["status"] == "closed"
    # The hold is released: with the merchant's scheduled compensation command, all are back on sale
    player.commerce.create_compensations()
    assert player.commerce.product("MUG-01")["salable_qty"] == mugs_before + 2
    # And its workflow went through the request and ended, with nothing parked
    [execution] = executions_of(player, oid)
    assert execution["status"] == "SUCCEEDED"
    assert {"RequestCancellationOnAmazon", "CancelCommerceOrder"} <= set(states_entered(player, execution))
    assert parked(player, "CommerceCancellationsDeadLetterQueue") == []


def test_a_cancellation_amazon_processes_later_is_followed_until_it_is_done(player):
    oid = an_imported_order(player, items=(("MUG-01", 1),))
    # Given Amazon queues feeds without processing them yet
    player.amazon.feeds.hold(True)
    player.run(Step(0, "commerce.cancel", {"order_id": oid, "reason": "Customer asked us to cancel"}))
    for _ in range(5000):  # until the workflow has sent the feed and waits to check it again (no timing asserted)
        player.stack.pump()
        if executions_of(player, oid) and "WaitForCancellationFeed" in states_entered(
            player, executions_of(player, oid)[0]
        ):
            break
    [feed] = feeds_for(player, oid)
    assert feed["processingStatus"] == "IN_QUEUE"
    assert "Cancellation from Commerce (Customer asked us to cancel) sent to Amazon" in the_order(player, oid)["notes"]
    # When Amazon processes it
    player.amazon.feeds.process()
    player.stack.settle()
    # Then the workflow, which kept checking, saw it done; the order is Canceled everywhere, one feed sent
    assert len(feeds_for(player, oid)) == 1
    order = the_order(player, oid)
    assert (order["amazon_status"], order["channel_status"]) == ("Canceled", "Canceled")
    [execution] = executions_of(player, oid)
    assert execution["status"] == "SUCCEEDED"
    assert states_entered(player, execution).count("RequestCancellationOnAmazon") >= 2
    assert orders(player).get(oid).cancellation.reason_code == "BuyerCanceled"


def test_a_partially_shipped_order_canceled_from_commerce_is_refused_with_a_note(player):
    oid = an_imported_order(player)
    do(
        player,
        "commerce.ship",
        order_id=oid,
        carrier="UPS",
        tracking_number="1ZPART",
        items=[{"sku": "MUG-01", "qty": 2}],
    )
    assert the_order(player, oid)["channel_status"] == "PartiallyShipped"
    # When the merchant "cancels" the rest in Commerce (Magento: a credit memo of the tea)
    do(player, "commerce.cancel", order_id=oid, reason="Tea out of stock")
    # Then nothing goes to Amazon, which still expects the tea; both orders say why
    assert feeds_for(player, oid) == []
    order = the_order(player, oid)
    assert (order["amazon_status"], order["channel_status"]) == ("PartiallyShipped", "PartiallyShipped")
    assert order["notes"] == (
        "Not canceled on Amazon: the order is partially shipped; partially shipped orders "
        "are canceled in Seller Central"
    )
    assert any("NOT canceled on Amazon" in c for c in player.commerce.comments(oid))
    assert order["commerce_order"]["status"] == "complete"  # what Magento made of it: the rest refunded
    # And the workflow still waits for Amazon's word (the merchant cancels the rest in Seller Central)
    [execution] = executions_of(player, oid)
    assert execution["status"] == "RUNNING" and orders(player).get(oid).task_token


# -- buyers asking to cancel ------------------------------------------------------------------------------
def test_a_buyer_asking_amazon_to_cancel_shows_in_the_notes_before_the_merchant_ships(player):
    oid = an_imported_order(player)
    # When the buyer asks Amazon to cancel (ORDER_CHANGE: BuyerRequestedChange, IsBuyerRequestedCancel)
    player.amazon.request_buyer_cancellation(oid, reason="Ordered by mistake")
    player.stack.settle()
    # Then the merchant sees it in the order's notes; the order is still Unshipped
    order = the_order(player, oid)
    assert order["channel_status"] == "Unshipped"
    assert order["notes"].startswith(
        "Buyer asked Amazon to cancel (MUG-01, TEA-02): do not ship; cancel Commerce order"
    )
    # And Amazon's getOrder says so too (CANCELLATION data), in the official model's shape
    view = player.amazon.order_view(oid, ["CANCELLATION"])
    assert view["orderItems"][0]["cancellation"]["cancellationRequest"] == {
        "requester": "BUYER",
        "cancelReason": "Ordered by mistake",
    }


# -- partial and over-shipments --------------------------------------------------------------------------
def test_a_shipment_of_more_than_amazon_ordered_is_refused_with_a_note_and_parked(player):
    oid = an_imported_order(player, items=(("MUG-01", 2),))
    # Given the Commerce order was edited to 3 mugs (Amazon's order still says 2)
    commerce_order = player.commerce._order_by_ext(oid)
    commerce_order["items"][0]["qty_ordered"] += 1
    # When the merchant ships the 3 mugs
    do(
        player,
        "commerce.ship",
        order_id=oid,
        carrier="UPS",
        tracking_number="1ZOVER",
        items=[{"sku": "MUG-01", "qty": 3}],
    )
    # Then nothing is confirmed to Amazon; the event is parked with its reason; both orders say why
    order = the_order(player, oid)
    assert order["amazon_shipment_confirmations"] == [] and order["channel_status"] == "Unshipped"
    assert order["notes"].startswith("Commerce shipment ") and "it ships 3 x MUG-01" in order["notes"]
    [event] = parked(player, "CommerceShipmentsDeadLetterQueue")
    assert event["reason"].startswith("OverShipment: Commerce shipment") and event["source"] == "commerce-shipments"
    assert any("was not confirmed to Amazon" in c for c in player.commerce.comments(oid))
