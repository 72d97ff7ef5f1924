"""Exactly once: whatever is delivered twice, replayed, retried or raced, a merchant's Amazon order
gives one Commerce order, one customer, one shipment and one confirmation to Amazon, and a stale
notification never moves it backwards.

One embedded stack serves the module (store setting: Build New Customer Account, so that every
story also proves no second customer is made); each story places its own orders.
"""

from __future__ import annotations

import io
import itertools
import json

import pytest

import stack_stories
from amazon_channel.adapters.aws_messaging import StepFunctionsWorkflows
from amazon_channel_local.player import DEFAULT_MARKETPLACE, DEFAULT_SELLER, Player
from amazon_channel_local.scenario import Step, parse
from stack_stories import end_waiting_workflows, merchant_ships, orders

SCENARIO = {
    "name": "exactly once",
    "settings": {"customer_creation": "create", "order_number_source": "commerce"},
    "catalog": [{"sku": "MUG-01", "name": "Blue mug", "price": "12.50", "qty": 1000}],
    "steps": [],
}
STARTED = "Merchant-fulfilled workflow started"
_numbers = itertools.count(1)
COMMERCE_EVENTS: list[dict] = []  # every shipment event Commerce emitted, as put on EventBridge


# -- the stage ------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def player():
    with Player(parse(SCENARIO, "test_exactly_once.py"), log_stream=io.StringIO(), time_scale=0.01) as p:
        forward = p.commerce.on_event

        def keep_and_forward(entry: dict) -> None:
            COMMERCE_EVENTS.append(entry)
            forward(entry)

        p.commerce.on_event = keep_and_forward
        yield p


@pytest.fixture(autouse=True)
def _each_story(player):
    yield
    end_waiting_workflows(player)


def a_paid_order(player: Player, buyer: tuple[str, str] | None = None) -> str:
    """A buyer (a new one unless named) orders and Amazon verifies the payment; both notifications
    wait in the queue."""
    n = next(_numbers)
    return stack_stories.a_paid_order(
        player, f"114-{n:07d}-2000002", buyer or (f"Buyer Number{n}", f"buyer{n}@example.com")
    )


def an_imported_order(player: Player) -> str:
    """The order is in Commerce and its workflow waits for the merchant to ship."""
    oid = a_paid_order(player)
    player.stack.settle()
    return oid


def a_shipped_order(player: Player) -> str:
    """The whole lifecycle: placed, paid, imported, shipped in Commerce, confirmed to Amazon."""
    oid = an_imported_order(player)
    merchant_ships(player, oid)
    player.stack.settle()
    assert the_order(player, oid)["channel_status"] == "Shipped"
    return oid


def send(player: Player, *bodies: str) -> None:
    """Put notifications on the NotificationsQueue together (one batch), as Amazon would."""
    player.stack.client("sqs").send_message_batch(
        QueueUrl=player.stack.queue_url("NotificationsQueue"),
        Entries=[{"Id": str(i), "MessageBody": b} for i, b in enumerate(bodies)],
    )


def notifications(player: Player, oid: str) -> list[str]:
    return [
        b
        for b in player.amazon.notifications_sent
        if json.loads(b)["Payload"]["OrderChangeNotification"]["AmazonOrderId"] == oid
    ]


def renumbered(body: str) -> str:
    """The same change in a new notification (a new NotificationId): not a redelivery."""
    data = json.loads(body)
    data["NotificationMetadata"]["NotificationId"] = f"late-{next(_numbers)}"
    return json.dumps(data)


def the_order(player: Player, oid: str, result: dict | None = None) -> dict:
    return next(o for o in (result or player.result())["orders"] if o["amazon_order_id"] == oid)


def history(player: Player, oid: str) -> list:
    return orders(player).history(oid)


def messages(player: Player, oid: str) -> list[str]:
    return [h.message for h in history(player, oid)]


def executions(player: Player, oid: str) -> list[dict]:
    return [e for e in player.stack.executions() if e["name"] == f"mfn-{oid}"]


def workflow_state(oid: str, **more) -> dict:
    return {"amazon_order_id": oid, "seller_id": DEFAULT_SELLER, "marketplace_id": DEFAULT_MARKETPLACE, **more}


def assert_once(player: Player, oid: str, before: dict, *, shipped: bool) -> None:
    """One Commerce order, no new customer, one confirmation (if shipped), no duplicate confirmation."""
    after = player.result()
    order = the_order(player, oid, after)
    assert after["commerce_order_count"] == before["commerce_order_count"]
    assert after["commerce_customers"] == before["commerce_customers"]
    assert order["commerce_order"] is not None
    assert len(order["amazon_shipment_confirmations"]) == (1 if shipped else 0)
    assert len(order["commerce_order"]["shipments"]) == (1 if shipped else 0)
    assert player.amazon.duplicate_confirmations == 0
    assert len(executions(player, oid)) == 1
    assert messages(player, oid).count(STARTED) == 1


# -- redeliveries and duplicates --------------------------------------------------------------------
def test_redelivered_notifications_after_the_full_lifecycle_change_nothing(player):
    oid = a_shipped_order(player)  # Given an order shipped and confirmed
    before, earlier = player.result(), history(player, oid)
    player.run(Step(0, "amazon.redeliver_notifications", {}))  # When Amazon sends every notification again
    player.stack.settle()
    assert_once(player, oid, before, shipped=True)  # Then nothing new happens
    assert the_order(player, oid)["channel_status"] == "Shipped"
    assert history(player, oid) == earlier, "a redelivery (same NotificationId) is applied once"


def test_redelivered_after_the_dedupe_records_expired_moves_nothing_backwards(player):
    oid = a_shipped_order(player)  # Given an order shipped and confirmed, a week ago
    before, earlier = player.result(), history(player, oid)
    ddb, table = player.stack.client("dynamodb"), player.stack.resources["IdempotencyTable"]
    for item in ddb.scan(TableName=table)["Items"]:  # a week later: the NotificationIds are forgotten
        ddb.delete_item(TableName=table, Key={"id": item["id"]})
    player.run(Step(0, "amazon.redeliver_notifications", {}))  # When Amazon sends every notification again
    player.stack.settle()
    assert_once(player, oid, before, shipped=True)  # Then nothing new happens, nothing moves back
    assert the_order(player, oid)["channel_status"] == "Shipped"
    new = history(player, oid)[len(earlier) :]
    assert [h.kind for h in new] == ["stale", "stale"], "the old Pending and Unshipped are noted as stale"


def test_the_same_notification_twice_in_one_batch_is_applied_once(player):
    before = player.result()
    oid = a_paid_order(player)  # Given a paid order's Pending and Unshipped notifications in the queue
    _pending, unshipped = notifications(player, oid)
    send(player, unshipped)  # When Unshipped is delivered twice in the batch (Pending, Unshipped, Unshipped)
    player.stack.settle()
    after = player.result()  # Then one Commerce order, one customer, one workflow
    assert after["commerce_order_count"] == before["commerce_order_count"] + 1
    assert len(after["commerce_customers"]) == len(before["commerce_customers"]) + 1
    assert len(executions(player, oid)) == 1 and messages(player, oid).count(STARTED) == 1
    statuses = [h.data["amazon_status"] for h in history(player, oid) if h.kind == "status"]
    assert statuses == ["Pending", "Unshipped"]


def test_a_duplicate_workflow_start_starts_nothing(player):
    oid = an_imported_order(player)  # Given an order whose workflow waits for the merchant
    before = player.result()
    [execution] = executions(player, oid)
    sfn = player.stack.client("stepfunctions")  # When its workflow is started again (API and adapter)
    again = sfn.start_execution(
        stateMachineArn=execution["stateMachineArn"], name=execution["name"], input=execution["input"]
    )
    assert again["executionArn"] == execution["executionArn"]
    StepFunctionsWorkflows(execution["stateMachineArn"], sfn).start(oid, json.loads(execution["input"]))
    player.stack.settle()
    assert_once(player, oid, before, shipped=False)  # Then nothing new happens, and shipping confirms once
    merchant_ships(player, oid)
    player.stack.settle()
    assert len(the_order(player, oid)["amazon_shipment_confirmations"]) == 1


def test_a_second_unshipped_notification_starts_no_second_workflow(player):
    oid = an_imported_order(player)  # Given an order whose workflow waits for the merchant
    before = player.result()
    _pending, unshipped = notifications(player, oid)
    send(player, renumbered(unshipped))  # When a new notification says Unshipped again (e.g. a buyer's request)
    player.stack.settle()
    assert_once(player, oid, before, shipped=False)  # Then no second workflow is started or reported


# -- retries -----------------------------------------------------------------------------------------
def test_a_lambda_retry_of_create_commerce_order_finds_the_order_it_made(player):
    oid = an_imported_order(player)  # Given an order already in Commerce
    before = player.result()
    made = the_order(player, oid, before)["commerce_order"]
    customer_id = orders(player).get(oid).commerce.customer_id
    state = workflow_state(oid, import_enabled=True, customer_id=customer_id)
    out = player.stack.invoke("CreateCommerceOrderFunction", state)  # When Step Functions retries the task
    assert out["commerce_increment_id"] == made["increment_id"]  # Then it returns the same order, makes none
    assert_once(player, oid, before, shipped=False)


def test_a_lambda_retry_of_confirm_shipments_after_shipping_confirms_nothing_again(player):
    oid = a_shipped_order(player)  # Given an order shipped and confirmed
    before, earlier = player.result(), history(player, oid)
    out = player.stack.invoke("ConfirmShipmentsFunction", workflow_state(oid))  # When the task runs again
    assert out["all_shipped"] is True  # Then it confirms nothing again
    assert_once(player, oid, before, shipped=True)
    assert history(player, oid) == earlier


def test_commerce_saving_the_order_but_losing_the_answer_makes_one_order(player):
    before = player.result()
    player.commerce.fail_next("POST", "/V1/orders", 503, after_effect=True)  # Given Commerce saves, then times out
    oid = an_imported_order(player)  # When a paid order is imported
    after = player.result()  # Then the client finds the saved order rather than saving a second
    assert after["commerce_order_count"] == before["commerce_order_count"] + 1
    assert the_order(player, oid, after)["commerce_order"]["status"] == "processing"
    assert len(executions(player, oid)) == 1


def test_a_replayed_commerce_shipment_event_ships_and_confirms_once(player):
    oid = an_imported_order(player)  # Given an order whose workflow waits for the merchant
    before = player.result()
    seen = len(COMMERCE_EVENTS)
    merchant_ships(player, oid)  # When the merchant ships and Commerce's event arrives three times
    [shipped] = COMMERCE_EVENTS[seen:]
    events, bus = player.stack.client("events"), player.stack.resources["ChannelEventBus"]
    for _ in range(2):  # Adobe I/O Events delivers at least once: the same event, twice more
        assert events.put_events(Entries=[{**shipped, "EventBusName": bus}])["FailedEntryCount"] == 0
    player.stack.settle()
    events.put_events(Entries=[{**shipped, "EventBusName": bus}])  # and once more after it is all done
    player.stack.settle()
    assert_once(player, oid, before, shipped=True)  # Then one shipment, one confirmation
    assert the_order(player, oid)["channel_status"] == "Shipped"
    assert len(orders(player).get(oid).shipments) == 1


# -- races and stale news ----------------------------------------------------------------------------
def test_pending_and_unshipped_in_one_batch_in_reverse_order_end_unshipped(player):
    before = player.result()
    held: list[str] = []
    player.amazon.notify, deliver = held.append, player.amazon.notify
    try:
        oid = a_paid_order(player)  # Given a paid order whose two notifications are held back
    finally:
        player.amazon.notify = deliver
    pending, unshipped = held
    send(player, unshipped, pending)  # When they arrive together, newest first
    player.stack.settle()
    order = the_order(player, oid)  # Then the order is Unshipped, imported once; Pending is noted as stale
    assert order["channel_status"] == "Unshipped" and order["visible_in_orders_tab"]
    assert player.result()["commerce_order_count"] == before["commerce_order_count"] + 1
    assert len(executions(player, oid)) == 1 and messages(player, oid).count(STARTED) == 1
    assert [h.kind for h in history(player, oid) if h.kind in ("status", "stale")] == ["status", "stale"]


def test_a_stale_pending_after_unshipped_moves_nothing(player):
    oid = an_imported_order(player)  # Given an Unshipped order in Commerce
    before, earlier = player.result(), history(player, oid)
    pending, _unshipped = notifications(player, oid)
    send(player, renumbered(pending))  # When Amazon's older news arrives late, as a new notification
    player.stack.settle()
    assert_once(player, oid, before, shipped=False)  # Then nothing moves, and the history says why
    order = the_order(player, oid)
    assert order["channel_status"] == "Unshipped" and order["amazon_status"] == "Unshipped"
    [late] = history(player, oid)[len(earlier) :]
    assert late.kind == "stale" and "Ignored stale Pending" in late.message


def test_two_orders_of_the_same_buyer_make_one_customer(player):
    before = player.result()
    first = a_paid_order(player, buyer=("Eva Lima", "eva@example.com"))  # Given one buyer's two paid orders
    second = a_paid_order(player, buyer=("Eva Lima", "eva@example.com"))
    player.stack.settle()  # When both are imported, side by side
    after = player.result()  # Then one customer account, with both orders on it
    assert [c for c in after["commerce_customers"] if c["email"] == "eva@example.com"] == [
        {"email": "eva@example.com", "firstname": "Eva", "lastname": "Lima"}
    ]
    assert len(after["commerce_customers"]) == len(before["commerce_customers"]) + 1
    assert after["commerce_order_count"] == before["commerce_order_count"] + 2
    for oid in (first, second):
        commerce_order = the_order(player, oid, after)["commerce_order"]
        assert commerce_order["customer_email"] == "eva@example.com"
        assert commerce_order["customer_is_guest"] is False


# -- last: this one makes Amazon count a duplicate confirmation, which every story above asserts is 0 --
def test_a_lambda_retry_of_confirm_shipments_after_amazon_accepted_confirms_nothing_again(player):
    oid = a_shipped_order(player)  # Given Amazon accepted the package, but the task died before noting it
    before = player.result()
    order = orders(player).get(oid)
    order.shipments[0].confirmed_at = None
    order.version += 1
    orders(player).save(order, [])
    player.stack.invoke("ConfirmShipmentsFunction", workflow_state(oid))  # When the task is retried
    assert_once(player, oid, before, shipped=True)  # Then the package is not confirmed twice
