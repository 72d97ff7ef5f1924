"""Notifications with odd timestamps or statuses, on the embedded stack: parked at once with the
field and the problem, never believed over Amazon's order, never moving a shipped order.

Each story spoils a copy of a notification Amazon (the simulator) really sent for its order.
"""

from __future__ import annotations

import io
import itertools
import json
from datetime import timedelta

import pytest

from amazon_channel_local.player import Player
from amazon_channel_local.scenario import Step, parse
from stack_stories import end_waiting_workflows, orders

INTAKE = "OrderNotificationIntakeFunction"
SCENARIO = {
    "name": "odd notifications",
    "settings": {"customer_creation": "guest", "order_number_source": "commerce"},
    "catalog": [{"sku": "MUG-01", "name": "Blue mug", "price": "12.50", "qty": 1000}],
    "steps": [],
}
TRIGGER = "Payload.OrderChangeNotification.OrderChangeTrigger.TimeOfOrderChange"
PURCHASE = "Payload.OrderChangeNotification.Summary.PurchaseDate"
_numbers = itertools.count(1)


@pytest.fixture(scope="module")
def player():
    with Player(
        parse(SCENARIO, "test_odd_notifications_on_the_stack.py"), log_stream=io.StringIO(), time_scale=0.01
    ) as p:
        yield p


@pytest.fixture(autouse=True)
def _each_story(player):
    parked(player)
    yield
    end_waiting_workflows(player)


def a_placed_order(player: Player) -> str:
    oid = f"116-{next(_numbers):07d}-4000004"
    place = parse(
        {
            "steps": [
                {
                    "do": "amazon.place_order",
                    "order": {
                        "id": oid,
                        "buyer": {"name": "Ana Souza", "email": "ana@example.com"},
                        "items": [{"sku": "MUG-01", "qty": 1, "price": "12.50"}],
                    },
                }
            ]
        },
        "story",
    ).steps[0]
    player.scenario.steps.append(place)
    player.run(place)
    player.stack.settle()
    return oid


def spoiled(player: Player, oid: str, **changes) -> str:
    """The last notification Amazon sent for the order, with a new id and `changes` (dotted paths)."""
    bodies = [json.loads(b) for b in player.amazon.notifications_sent]
    body = [b for b in bodies if b["Payload"]["OrderChangeNotification"]["AmazonOrderId"] == oid][-1]
    body["NotificationMetadata"]["NotificationId"] = f"spoiled-{oid}-{next(_numbers)}"
    for path, value in changes.items():
        node, *_ = [body]
        keys = path.split(".")
        for key in keys[:-1]:
            node = node[key]
        node[keys[-1]] = value
    return json.dumps(body)


def delivered_alone(player: Player, body: str) -> list[dict]:
    """Amazon delivers `body` on the queue by itself; the stack runs. Returns the intake's runs."""
    player.stack.settle()
    before = len(_intake_runs(player))
    player.stack.client("sqs").send_message(QueueUrl=player.stack.queue_url("NotificationsQueue"), MessageBody=body)
    player.stack.settle()
    return _intake_runs(player)[before:]


def parked(player: Player) -> list[dict]:
    sqs, url, out = player.stack.client("sqs"), player.stack.queue_url("NotificationsDeadLetterQueue"), []
    while msgs := sqs.receive_message(
        QueueUrl=url, MaxNumberOfMessages=10, MessageAttributeNames=["All"], AttributeNames=["All"]
    ).get("Messages"):
        for m in msgs:
            attrs = {k: v["StringValue"] for k, v in (m.get("MessageAttributes") or {}).items()}
            out.append({"body": m["Body"], **attrs})
            sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
    return out


def _intake_runs(player: Player) -> list[dict]:
    return [i for i in player.stack.invocations if i["logical_id"] == INTAKE and i["source"].startswith("sqs:")]


@pytest.mark.parametrize(
    "field, value, problem",
    [
        (TRIGGER, "yesterday", "not a date-time: 'yesterday'"),
        (PURCHASE, "26/11/2026", "not a date-time: '26/11/2026'"),
    ],
    ids=["TimeOfOrderChange", "PurchaseDate"],
)
def test_a_notification_whose_date_is_not_a_date_is_parked_at_once_naming_the_field(player, field, value, problem):
    oid = a_placed_order(player)  # Given an order Amazon told the channel about
    bad = spoiled(player, oid, **{field: value})
    runs = delivered_alone(player, bad)  # When a notification for it carries a date that is no date
    # Then it is handled once, never retried, and parked with the field and the problem
    assert [r["ok"] for r in runs] == [True]
    [message] = parked(player)
    assert message["body"] == bad
    assert message["field"] == field
    assert message["reason"] == f"InvalidNotification: invalid field {field}: {problem}"
    assert orders(player).get(oid).channel_status.value == "Pending", "the order is untouched"


def test_a_notification_dated_2099_is_parked_and_the_real_unshipped_imports_the_order(player):
    oid = a_placed_order(player)  # Given a Pending order
    # When a notification dated 2099 arrives for it
    future = spoiled(player, oid, **{TRIGGER: "2099-01-01T00:00:00Z"})
    assert [r["ok"] for r in delivered_alone(player, future)] == [True]
    # Then it is parked, saying the date is ahead of the clock
    [message] = parked(player)
    assert message["field"] == TRIGGER
    assert "TimeOfOrderChange 2099-01-01T00:00:00.000000Z is" in message["reason"]
    assert "ahead of the channel's clock (more than 5 minutes)" in message["reason"]
    # And when Amazon verifies the payment, and the sync runs, the order is imported
    player.run(Step(0, "amazon.verify_payment", {"order_id": oid}))
    player.stack.settle()
    player.poll()
    player.stack.settle()
    order = orders(player).get(oid)
    assert order.channel_status.value == "Unshipped" and order.commerce is not None
    assert order.amazon_status_at < "2099"
    assert not [h for h in orders(player).history(oid) if h.kind == "stale"], "nothing real was taken for stale"


def test_a_canceled_dated_after_shipped_is_noted_and_the_shipped_order_stays_shipped(player):
    oid = a_placed_order(player)  # Given an order imported, shipped by the merchant and confirmed to Amazon
    player.run(Step(0, "amazon.verify_payment", {"order_id": oid}))
    player.stack.settle()
    player.run(Step(0, "commerce.ship", {"order_id": oid, "carrier": "UPS", "tracking_number": "1Z999AA10123456784"}))
    player.stack.settle()
    assert orders(player).get(oid).amazon_status.value == "Shipped"
    # When a Canceled dated after the shipment arrives
    # (a second on from the scenario's clock: the notification's dates have whole seconds, and the
    # shipment's own change may fall in the same second)
    later = (player.clock.datetime() + timedelta(seconds=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    cancel = spoiled(player, oid, **{"Payload.OrderChangeNotification.Summary.OrderStatus": "Canceled", TRIGGER: later})
    assert [r["ok"] for r in delivered_alone(player, cancel)] == [True]
    # Then the order stays Shipped with a note, and the Commerce order stays complete
    order = orders(player).get(oid)
    assert (order.amazon_status.value, order.channel_status.value) == ("Shipped", "Shipped")
    assert "Amazon cannot cancel a shipped order" in order.notes
    assert player.commerce.order_by_ext_id(oid)["status"] == "complete"
    assert parked(player) == [], "a real notification in the wrong order is noted, not parked"
