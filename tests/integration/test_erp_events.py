"""Events to the ERP: every order the channel puts in Commerce reaches the integration queue at least
once, whatever fails on the way to EventBridge; a repeat carries the same `event_id`.

One embedded stack serves the module; each story places its own order and injects one fault in
the AWS calls around the announcement (`AwsFaults`): before the put (the state saved, the answer
lost), the put failing, the put answering FailedEntryCount > 0, the put taking effect with its
answer lost, and the delivery not recorded afterwards.
"""

from __future__ import annotations

import io
import itertools
import json

import pytest

from amazon_channel_local.aws_faults import failed_entry_answer, put_events_of
from amazon_channel_local.player import Player
from amazon_channel_local.scenario import Step, parse
from stack_stories import end_waiting_workflows, orders

SCENARIO = {
    "name": "events to the ERP",
    "settings": {"customer_creation": "guest", "order_number_source": "commerce", "import_fba_orders": True},
    "catalog": [{"sku": "MUG-01", "name": "Blue mug", "price": "12.50", "qty": 1000}],
    "steps": [],
}
_numbers = itertools.count(1)
ANNOUNCED = put_events_of("CommerceOrderCreated")


def _writes_containing(text: str):
    return lambda body: text in json.dumps(body)


# fault name -> (service, operation, fail_next keywords, copies the ERP receives)
FAULTS = {
    "state-saved-answer-lost-before-the-put": (
        "dynamodb",
        "TransactWriteItems",
        {"when": "after", "match": _writes_containing("CommerceOrderCreated")},
        1,
    ),
    "put-fails": ("eventbridge", "PutEvents", {"when": "before", "match": ANNOUNCED}, 1),
    "put-answers-failed-entry": ("eventbridge", "PutEvents", {"answer": failed_entry_answer(), "match": ANNOUNCED}, 1),
    "put-done-answer-lost": ("eventbridge", "PutEvents", {"when": "after", "match": ANNOUNCED}, 2),
    "delivery-not-recorded": (
        "dynamodb",
        "TransactWriteItems",
        {"when": "before", "match": _writes_containing("delivered to the channel's event bus")},
        2,
    ),
}
WORKFLOW_FAULTS = {name: FAULTS[name] for name in ("put-fails", "put-answers-failed-entry", "put-done-answer-lost")}


@pytest.fixture(scope="module")
def player():
    with Player(parse(SCENARIO, "test_erp_events.py"), log_stream=io.StringIO(), time_scale=0.01) as p:
        yield p


@pytest.fixture(autouse=True)
def _each_story(player):
    erp_receives(player)  # each story sees only its own events
    yield
    player.stack.aws_faults.clear()
    end_waiting_workflows(player)


def an_order(player: Player, fulfillment: str) -> str:
    oid = f"115-{next(_numbers):07d}-3000003"
    place = parse(
        {
            "steps": [
                {
                    "do": "amazon.place_order",
                    "order": {
                        "id": oid,
                        "fulfillment": fulfillment,
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
    player.run(Step(0, "amazon.verify_payment", {"order_id": oid}))
    return oid


def erp_receives(player: Player) -> list[dict]:
    """Drain the ERP's queue (IntegrationOrdersQueue): the events EventBridge delivered to it."""
    sqs, url, out = player.stack.client("sqs"), player.stack.queue_url("IntegrationOrdersQueue"), []
    while msgs := sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages"):
        for m in msgs:
            out.append(json.loads(m["Body"]))
            sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
    return out


def inject(player: Player, fault: str) -> int:
    service, operation, how, copies = FAULTS[fault]
    player.stack.aws_faults.fail_next(service, operation, **how)
    return copies


def assert_the_erp_heard_of(player: Player, oid: str, copies: int) -> None:
    events = [e for e in erp_receives(player) if e["detail"]["amazon_order_id"] == oid]
    assert [e["detail-type"] for e in events] == ["CommerceOrderCreated"] * copies
    assert {e["detail"]["event_id"] for e in events} == {f"CommerceOrderCreated:{oid}"}, "one id to drop repeats by"
    assert events[0]["detail"]["commerce_increment_id"] == player.commerce.order_by_ext_id(oid)["increment_id"]


@pytest.mark.parametrize("fault", FAULTS)
def test_an_fba_order_reaches_the_erp_whatever_fails_around_its_announcement(player, fault):
    commerce_orders = player.result()["commerce_order_count"]
    oid = an_order(player, "AFN")  # Given an FBA order
    copies = inject(player, fault)  # and one fault around the announcement of its import
    player.run(Step(0, "amazon.ship", {"order_id": oid}))  # When Amazon ships it and the channel imports it
    player.stack.settle()
    assert player.stack.aws_faults.injected[-1]["operation"] in ("PutEvents", "TransactWriteItems")
    # Then the order is imported once and the ERP hears of it (twice when only the answer was lost)
    assert player.result()["commerce_order_count"] == commerce_orders + 1
    assert orders(player).get(oid).channel_status.value == "Shipped"
    assert_the_erp_heard_of(player, oid, copies)
    assert orders(player).get(oid).outbox == [], "nothing is left to send"


def test_a_failed_entry_is_retried_not_taken_for_a_delivery(player):
    oid = an_order(player, "AFN")  # Given an FBA order
    # When EventBridge answers FailedEntryCount 1 three times in a row
    player.stack.aws_faults.fail_next(
        "eventbridge", "PutEvents", answer=failed_entry_answer("ThrottlingException"), count=3, match=ANNOUNCED
    )
    player.run(Step(0, "amazon.ship", {"order_id": oid}))
    player.stack.settle()
    # Then each is a failure retried (SQS redelivers), and the fourth put is delivered
    assert [f["when"] for f in player.stack.aws_faults.injected[-3:]] == ["answer"] * 3
    assert_the_erp_heard_of(player, oid, 1)


@pytest.mark.parametrize("fault", WORKFLOW_FAULTS)
def test_a_merchant_fulfilled_order_reaches_the_erp_whatever_fails_in_its_announcement(player, fault):
    oid = an_order(player, "MFN")  # Given a paid merchant-fulfilled order
    copies = inject(player, fault)  # and one fault in the workflow's AnnounceCommerceOrder
    player.stack.settle()  # When the workflow imports it
    # Then the ERP hears of it and the workflow goes on to wait for the merchant's shipment
    assert_the_erp_heard_of(player, oid, copies)
    order = orders(player).get(oid)
    assert order.channel_status.value == "Unshipped" and order.task_token, "the workflow waits for shipments"


def workflow_of(player: Player, oid: str) -> dict:
    [execution] = [e for e in player.stack.executions() if json.loads(e["input"])["amazon_order_id"] == oid]
    return execution


def task_failures(player: Player, execution: dict) -> list[str]:
    """The task failures of a workflow and of the Express children it started, oldest first."""
    events = [
        e
        for run in (execution, *player.stack.children_of(execution["executionArn"]))
        for e in player.stack.history(run["executionArn"])
        if e["type"] == "TaskFailed"
    ]
    return [e["taskFailedEventDetails"]["error"] for e in sorted(events, key=lambda e: e["timestamp"])]


def states_entered(player: Player, execution: dict) -> list[str]:
    return [
        e["stateEnteredEventDetails"]["name"]
        for e in player.stack.history(execution["executionArn"])
        if "stateEnteredEventDetails" in e
    ]


def ship(player: Player, oid: str) -> None:
    player.run(Step(0, "commerce.ship", {"order_id": oid, "carrier": "UPS", "tracking_number": "1Z999AA10123456784"}))
    player.stack.settle()


def test_the_shipped_announcement_is_retried_until_eventbridge_takes_it(player):
    oid = an_order(player, "MFN")  # Given an imported merchant-fulfilled order
    player.stack.settle()
    # When the merchant ships it and EventBridge answers FailedEntryCount 1 to the OrderShipped announcement
    player.stack.aws_faults.fail_next(
        "eventbridge", "PutEvents", answer=failed_entry_answer(), match=put_events_of("OrderShipped")
    )
    ship(player, oid)
    # Then the task failed with EventBridge.FailedEntry, was retried, and the workflow ended well
    execution = workflow_of(player, oid)
    assert task_failures(player, execution) == ["EventBridge.FailedEntry"]
    assert execution["status"] == "SUCCEEDED"
    assert orders(player).get(oid).channel_status.value == "Shipped"


# The Express children try an announcement 1 + 3 times (their Retry's MaxAttempts), then hand it over.
CHILD_ATTEMPTS = 4


def test_an_order_the_import_could_not_announce_is_announced_by_the_workflow(player):
    oid = an_order(player, "MFN")  # Given a paid merchant-fulfilled order
    # When EventBridge refuses every announcement the import child makes
    player.stack.aws_faults.fail_next(
        "eventbridge", "PutEvents", answer=failed_entry_answer(), count=CHILD_ATTEMPTS, match=ANNOUNCED
    )
    player.stack.settle()
    # Then the workflow's own AnnounceCommerceOrder (retried for a week) delivers it, once, and it waits for shipments
    execution = workflow_of(player, oid)
    assert task_failures(player, execution).count("EventBridge.FailedEntry") == CHILD_ATTEMPTS
    assert states_entered(player, execution)[-3:] == ["ReadImportedOrder", "AnnounceCommerceOrder", "WaitForShipments"]
    assert_the_erp_heard_of(player, oid, 1)
    order = orders(player).get(oid)
    assert order.channel_status.value == "Unshipped" and order.task_token, "the workflow waits for shipments"


def test_a_shipment_the_child_could_not_announce_is_announced_by_the_workflow(player):
    oid = an_order(player, "MFN")  # Given an imported merchant-fulfilled order
    player.stack.settle()
    # When the merchant ships it and EventBridge refuses every OrderShipped announcement the child makes
    player.stack.aws_faults.fail_next(
        "eventbridge",
        "PutEvents",
        answer=failed_entry_answer(),
        count=CHILD_ATTEMPTS,
        match=put_events_of("OrderShipped"),
    )
    ship(player, oid)
    # Then the workflow's own AnnounceOrderShipped delivers it and the workflow ends well
    execution = workflow_of(player, oid)
    assert states_entered(player, execution)[-2:] == ["AnnounceOrderShipped", "Done"]
    assert execution["status"] == "SUCCEEDED"
    assert orders(player).get(oid).channel_status.value == "Shipped"
