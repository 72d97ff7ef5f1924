"""Bad input: a merchant's good orders go on while what can never succeed is parked with a reason.

Given a GOOD paid order (its Pending and Unshipped notifications, as Amazon sent them), when one bad
message joins them on the NotificationsQueue (all in one batch), then the bad one ends in the
dead-letter queue with a `reason` attribute and a logged reason, the batch does not fail, and the
good order reaches Commerce. Orders Commerce refuses end in Error with the cause in their notes,
and no Commerce order is ever left half made.
"""

from __future__ import annotations

import io
import itertools
import json

import pytest

from amazon_channel.contracts import MAX_NOTIFICATION_BYTES
from amazon_channel_local.player import Player
from amazon_channel_local.scenario import Step, parse
from stack_stories import end_waiting_workflows, orders

INTAKE = "OrderNotificationIntakeFunction"
SCENARIO = {
    "name": "bad input beside good orders",
    "settings": {"customer_creation": "guest", "order_number_source": "commerce"},
    "catalog": [
        {"sku": "MUG-01", "name": "Blue mug", "price": "12.50", "qty": 1000},
        {"sku": "LAMP-OFF", "name": "Retired lamp", "price": "30.00", "qty": 10, "enabled": False},
        {"sku": "RUG-NONE", "name": "Sold-out rug", "price": "80.00", "qty": 0},
    ],
    "steps": [],
}
_order_numbers = itertools.count(1)
_LOGS = None  # this story's caplog


# -- the stage: one embedded stack for the module, a fresh order per story -------------------------
@pytest.fixture(scope="module")
def player():
    with Player(parse(SCENARIO, "test_bad_input.py"), log_stream=io.StringIO(), time_scale=0.01) as p:
        yield p


@pytest.fixture(autouse=True)
def _each_story(player, caplog):
    global _LOGS  # noqa: PLW0603 - the story's caplog, read by the module's assertions
    _LOGS = caplog
    parked(player)  # each story sees only what it parked itself
    yield
    end_waiting_workflows(player)


def a_paid_order(player: Player, sku: str = "MUG-01") -> str:
    """A buyer orders and Amazon verifies the payment; the notifications wait in the queue."""
    oid = f"113-{next(_order_numbers):07d}-1000001"
    place = parse(
        {
            "steps": [
                {
                    "do": "amazon.place_order",
                    "order": {
                        "id": oid,
                        "buyer": {"name": "Ana Souza", "email": "ana@example.com"},
                        "items": [{"sku": sku, "qty": 1, "price": "12.50"}],
                    },
                }
            ]
        },
        "story",
    ).steps[0]
    player.scenario.steps.append(place)  # so that player.result() reports it
    player.run(place)
    player.run(Step(0, "amazon.verify_payment", {"order_id": oid}))
    return oid


def a_notification(player: Player, oid: str) -> dict:
    """A copy of the last ORDER_CHANGE Amazon sent for the order, to spoil."""
    bodies = [json.loads(b) for b in player.amazon.notifications_sent]
    body = [b for b in bodies if b["Payload"]["OrderChangeNotification"]["AmazonOrderId"] == oid][-1]
    body["NotificationMetadata"]["NotificationId"] = f"spoiled-{next(_order_numbers)}"
    return body


def send_in_one_batch(player: Player, bad_body: str) -> str:
    """Queue the bad message behind the good ones and let the stack run. Returns its message id."""
    sqs = player.stack.client("sqs")
    batches_before = _intake_runs(player)
    message_id = sqs.send_message(QueueUrl=player.stack.queue_url("NotificationsQueue"), MessageBody=bad_body)[
        "MessageId"
    ]
    player.stack.settle()
    batches = _intake_runs(player)[len(batches_before) :]
    assert len(batches) == 1, "the good and the bad notifications arrive in one batch"
    assert batches[0]["ok"], f"the batch must not fail: {batches[0]['error']}"
    return message_id


def parked(player: Player) -> list[dict]:
    """Drain the dead-letter (parking) queue: each message's body and attributes."""
    sqs, url, out = player.stack.client("sqs"), player.stack.queue_url("NotificationsDeadLetterQueue"), []
    while msgs := sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, MessageAttributeNames=["All"]).get(
        "Messages"
    ):
        for m in msgs:
            attrs = {k: v["StringValue"] for k, v in (m.get("MessageAttributes") or {}).items()}
            out.append({"body": m["Body"], **attrs})
            sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
    return out


def logged_reason(player: Player, message_id: str) -> str:
    """The reason intake logged when it parked the message (Powertools JSON log, `reason` key)."""
    for record in _LOGS.records:  # the handlers' log records, as the test process sees them
        if getattr(record, "message_id", None) == message_id and hasattr(record, "reason"):
            return record.reason
    for line in player.log_stream.getvalue().splitlines():  # or their JSON lines in the stack's log
        if (
            line.startswith("{")
            and '"Notification parked"' in line
            and json.loads(line).get("message_id") == message_id
        ):
            return json.loads(line)["reason"]
    raise AssertionError(f"no logged reason for message {message_id}")


def the_order(player: Player, oid: str) -> dict:
    return next(o for o in player.result()["orders"] if o["amazon_order_id"] == oid)


def history(player: Player, oid: str) -> list:
    return orders(player).history(oid)


def _intake_runs(player: Player) -> list[dict]:
    return [i for i in player.stack.invocations if i["logical_id"] == INTAKE and i["source"].startswith("sqs:")]


def assert_parked_beside_a_good_order(player: Player, good: str, bad_body: str, reason: str) -> str:
    """The bad message is parked with `reason` (attribute and log); the good order is applied."""
    message_id = send_in_one_batch(player, bad_body)
    [parked_message] = parked(player)
    assert parked_message["body"] == bad_body
    assert reason in parked_message["reason"]
    assert parked_message["source"] == "order-notifications"
    assert reason in logged_reason(player, message_id)
    good_order = the_order(player, good)
    assert good_order["channel_status"] == "Unshipped"
    assert good_order["commerce_order"] is not None, "the good order in the same batch is applied"
    return parked_message["reason"]


# -- notifications that can never be applied -----------------------------------------------------
def test_malformed_json_is_parked_and_the_good_order_goes_on(player):
    good = a_paid_order(player)
    assert_parked_beside_a_good_order(player, good, '{"NotificationType": "ORDER_CHANGE", ', "malformed JSON")


def test_a_notification_of_another_type_is_parked(player):
    good = a_paid_order(player)
    offer_change = {**a_notification(player, good), "NotificationType": "ANY_OFFER_CHANGED"}
    assert_parked_beside_a_good_order(
        player, good, json.dumps(offer_change), "unsupported notification NotificationType: 'ANY_OFFER_CHANGED'"
    )


def test_a_notification_of_an_unknown_payload_version_is_parked(player):
    good = a_paid_order(player)
    future = {**a_notification(player, good), "PayloadVersion": "2.0"}
    assert_parked_beside_a_good_order(
        player, good, json.dumps(future), "unsupported notification PayloadVersion: '2.0'"
    )


def test_an_unknown_order_status_is_parked(player):
    good = a_paid_order(player)
    body = a_notification(player, good)
    body["Payload"]["OrderChangeNotification"]["Summary"]["OrderStatus"] = "Teleported"
    assert_parked_beside_a_good_order(player, good, json.dumps(body), "unknown order status 'Teleported'")


@pytest.mark.parametrize(
    "path",
    [
        ("Payload", "OrderChangeNotification", "AmazonOrderId"),
        ("Payload", "OrderChangeNotification", "Summary", "OrderItems"),
        ("NotificationMetadata", "NotificationId"),
    ],
    ids=lambda path: path[-1],
)
def test_a_notification_missing_a_field_is_parked(player, path):
    good = a_paid_order(player)
    body = a_notification(player, good)
    parent = body
    for key in path[:-1]:
        parent = parent[key]
    del parent[path[-1]]
    assert_parked_beside_a_good_order(player, good, json.dumps(body), f"missing field {'.'.join(path)}")


@pytest.mark.parametrize(
    "field, value, why",
    [
        ("SellerId", "A2OTHERSELLER99", "seller A2OTHERSELLER99 / marketplace ATVPDKIKX0DER is not a connected store"),
        (
            "MarketplaceId",
            "A1F83G8C2ARO7P",
            "seller A1SIMSELLER0001 / marketplace A1F83G8C2ARO7P is not a connected store",
        ),
    ],
    ids=["seller", "marketplace"],
)
def test_a_seller_or_marketplace_that_is_not_connected_is_parked(player, field, value, why):
    good = a_paid_order(player)
    body = a_notification(player, good)
    change = body["Payload"]["OrderChangeNotification"]
    change["AmazonOrderId"] = "113-9999999-0000001"
    (change if field == "SellerId" else change["Summary"])[field] = value
    reason = assert_parked_beside_a_good_order(player, good, json.dumps(body), why)
    assert reason == f"UnknownStore: {why}"
    assert history(player, "113-9999999-0000001") == [], "nothing is recorded for an unconnected store"


def test_an_oversized_payload_is_parked(player):
    # SQS now takes messages up to 1 MiB (moto too), so the channel's own limit,
    # MAX_NOTIFICATION_BYTES (256 KiB, the limit Amazon's notifications were sized for), is what refuses it.
    good = a_paid_order(player)
    body = a_notification(player, good)
    body["Padding"] = ""
    body["Padding"] = "x" * (MAX_NOTIFICATION_BYTES + 1 - len(json.dumps(body)))
    oversized = json.dumps(body)
    assert len(oversized.encode()) == MAX_NOTIFICATION_BYTES + 1
    assert_parked_beside_a_good_order(player, good, oversized, "oversized payload")


def test_a_notification_at_the_size_limit_is_applied(player):
    given = a_paid_order(player)  # Given an imported order
    player.stack.settle()
    body = a_notification(player, given)  # When its Unshipped news comes again, padded to exactly the limit
    body["Padding"] = ""
    body["Padding"] = "x" * (MAX_NOTIFICATION_BYTES - len(json.dumps(body)))
    send_in_one_batch(player, json.dumps(body))
    assert parked(player) == []  # Then it is applied like any other
    assert the_order(player, given)["channel_status"] == "Unshipped"


# -- Commerce refuses or fails while the order is created ------------------------------------------
@pytest.mark.parametrize(
    "sku, cause",
    [
        ("LAMP-OFF", 'Product "LAMP-OFF" cannot be ordered: disabled.'),
        ("RUG-NONE", 'Product "RUG-NONE" cannot be ordered: insufficient stock.'),
    ],
    ids=["disabled", "out-of-stock"],
)
def test_a_product_commerce_cannot_sell_puts_the_order_in_error(player, sku, cause):
    orders_before = player.result()["commerce_order_count"]
    oid = a_paid_order(player, sku=sku)  # Given a paid order for a product Commerce cannot sell
    player.stack.settle()  # When it is imported
    order = the_order(player, oid)  # Then it shows Error, naming the product and why; no Commerce order
    assert order["channel_status"] == "Error"
    assert cause in order["notes"]
    assert order["commerce_order"] is None
    assert player.result()["commerce_order_count"] == orders_before
    assert [h.kind for h in history(player, oid)].count("error") == 1
    assert parked(player) == [], "a refused order is an order in Error, not a parked notification"


def test_commerce_answering_400_on_order_creation_puts_the_order_in_error(player):
    orders_before = player.result()["commerce_order_count"]
    oid = a_paid_order(player)  # Given a paid order
    player.commerce.fail_next("POST", "/V1/orders", 400)  # When Commerce refuses to save it
    player.stack.settle()
    order = the_order(player, oid)  # Then it shows Error naming the cause; no Commerce order
    assert order["channel_status"] == "Error"
    assert "CommerceRejected" in order["notes"] and "POST /V1/orders (400)" in order["notes"]
    assert order["commerce_order"] is None
    assert player.result()["commerce_order_count"] == orders_before


def test_commerce_refusing_the_invoice_leaves_no_half_made_order(player):
    orders_before = player.result()["commerce_order_count"]
    player.commerce.create_compensations()  # the merchant's scheduled reservation command (README)
    mugs_before = player.commerce.product("MUG-01")
    oid = a_paid_order(player)  # Given a paid order
    player.commerce.fail_next("POST", "/V1/order/", 400)  # When Commerce saves it but refuses the invoice
    player.stack.settle()
    order = the_order(player, oid)  # Then it shows Error, naming the refusal and what became of the saved order
    assert order["channel_status"] == "Error"
    assert "(400)" in order["notes"] and "canceled so that no uninvoiced order is left" in order["notes"]
    # And the order Commerce saved is not left open and unpaid (to be picked, shipped or exported as a
    # sale): Magento cannot delete an order over REST, so it is canceled, with a comment saying why
    assert player.result()["commerce_order_count"] == orders_before + 1
    assert order["commerce_order"]["status"] == "canceled"
    assert any("Commerce refused the invoice" in c for c in player.commerce.comments(oid))
    assert player.commerce.product("MUG-01")["min_qty"] == mugs_before["min_qty"]  # the hold is released
    player.commerce.create_compensations()
    assert player.commerce.product("MUG-01")["salable_qty"] == mugs_before["salable_qty"]  # back on sale
    assert orders(player).get(oid).commerce is None  # a retry imports the Amazon order again


def test_commerce_answering_503_twice_is_retried_and_the_order_is_created_once(player):
    orders_before = player.result()["commerce_order_count"]
    oid = a_paid_order(player)  # Given a paid order
    player.commerce.fail_next("POST", "/V1/orders", 503, count=2)  # When Commerce answers 503 twice
    player.stack.settle()
    order = the_order(player, oid)  # Then the save is retried and the order exists once
    assert order["channel_status"] == "Unshipped"
    assert order["commerce_order"]["status"] == "processing"
    assert player.result()["commerce_order_count"] == orders_before + 1
    creates = [r for r in player.commerce.request_log if r[0] == "POST" and r[1].endswith("/V1/orders")]
    assert [status for _m, _p, status in creates][-3:] == [503, 503, 200]
