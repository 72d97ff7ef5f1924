"""`amazon-channel redrive [QUEUE]`: the dead-letter queues, why messages are there, and moving them back."""

from __future__ import annotations

import pytest
from debugging_stage import FBA, STORE, amazon_channel, amazon_channel_json, merchants_store, one_line

from amazon_channel_local.scenario import Step

FBA_STEPS = [
    {
        "do": "amazon.place_order",
        "order": {"id": FBA, "fulfillment": "AFN", "items": [{"sku": "TEA-02", "qty": 1, "price": "5.50"}]},
    },
    {"do": "amazon.verify_payment", "order_id": FBA},
]
# Every delivery of the FBA import tries Commerce 4 times (the client's retries); 5 deliveries
# (maxReceiveCount) later the message is in the dead-letter queue, and Commerce is back.
COMMERCE_DOWN_FOR = 4 * 5


@pytest.fixture()
def store():
    """Amazon shipped an FBA order while Commerce was down for longer than every retry: its import
    failed each delivery and went to the dead-letter queue; a notification that is not JSON was
    parked too. (A product Commerce refuses is not parked: the order shows Error and the sync
    retries it.)"""
    with merchants_store(steps=FBA_STEPS, catalog=STORE["catalog"]) as (player, handle, _log):
        player.commerce.fail_next("GET", "/V1/orders", 503, count=COMMERCE_DOWN_FOR)
        player.run(Step(0, "amazon.ship", {"order_id": FBA}))
        player.stack.client("sqs").send_message(
            QueueUrl=player.stack.queue_url("NotificationsQueue"), MessageBody="{not json"
        )
        player.stack.settle()
        yield player, handle


def queue(report: dict, name: str) -> dict:
    return next(q for q in report["queues"] if q["queue"] == name)


def test_the_dead_letter_queues_are_shown_with_their_reasons_and_nothing_moves_on_a_dry_run(store, capsys):
    player, handle = store
    code, report = amazon_channel_json(capsys, "redrive", "--dry-run", handle=handle)
    assert code == 0
    fba = queue(report, "FbaOrderImportDeadLetterQueue")
    assert fba["depth"] == 1 and fba["source"] == "FbaOrderImportQueue" and fba["moved"] is None
    assert fba["sample"][0]["about"] == f"FbaOrderShipped {FBA}"
    assert fba["sample"][0]["reason"].startswith("failed 5 deliveries (maxReceiveCount)")
    notifications = queue(report, "NotificationsDeadLetterQueue")
    assert notifications["depth"] == 1 and "malformed JSON" in notifications["sample"][0]["reason"]
    assert notifications["sample"][0]["about"].startswith("not JSON")
    # the sample left the messages where they were
    _code, again = amazon_channel_json(capsys, "redrive", "--dry-run", handle=handle)
    assert queue(again, "FbaOrderImportDeadLetterQueue")["depth"] == 1
    assert player.result()["orders"][0]["commerce_order"] is None


def test_once_the_cause_is_fixed_redrive_moves_the_messages_back_and_reports_what_failed_again(store, capsys):
    player, handle = store
    # Given Commerce is back up; When the operator redrives every dead-letter queue
    code, report = amazon_channel_json(capsys, "redrive", handle=handle)
    # Then the FBA import went back to its queue and succeeded: the order is in Commerce, complete
    fba = queue(report, "FbaOrderImportDeadLetterQueue")
    assert (fba["moved"], fba["failed_again"], fba["unprocessed"]) == (1, 0, 0)
    assert fba["method"] in ("StartMessageMoveTask", "receive-send-delete")
    order = player.result()["orders"][0]
    assert order["channel_status"] == "Shipped" and order["commerce_order"]["status"] == "complete"
    # And the notification that can never succeed was parked again: reported, exit code 4
    notifications = queue(report, "NotificationsDeadLetterQueue")
    assert (notifications["moved"], notifications["failed_again"]) == (1, 1)
    assert code == 4


def test_one_queue_can_be_named_and_the_readable_report_says_what_moved(store, capsys):
    _player, handle = store
    code, out, _err = amazon_channel(capsys, "redrive", "FbaOrderImport", handle=handle)
    assert code == 0
    assert "FbaOrderImportDeadLetterQueue" in out and "NotificationsDeadLetterQueue" not in out
    assert "failed again" in out and "moved to" in out
    _code, report = amazon_channel_json(capsys, "redrive", "--dry-run", handle=handle)
    assert queue(report, "FbaOrderImportDeadLetterQueue")["depth"] == 0
    assert queue(report, "NotificationsDeadLetterQueue")["depth"] == 1  # not named: left alone


def test_an_unknown_queue_is_one_line_and_exit_2(store, capsys):
    code, out, err = amazon_channel(capsys, "redrive", "NoSuchQueue", handle=store[1])
    assert code == 2 and out == ""
    assert one_line(err).startswith(
        "amazon-channel redrive: no dead-letter queue 'NoSuchQueue' in the stack (its DLQs: "
    )
