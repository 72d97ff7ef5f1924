"""`amazon-channel redrive [QUEUE]`: the dead-letter queues, why messages are there, and moving them back."""

from __future__ import annotations

import pytest

from debugging_stage import FBA, STORE, amazon_channel, amazon_channel_json, merchants_store, one_line

REFUSED_FBA_STEPS = [
    {"do": "amazon.place_order", "order": {
        "id": FBA, "fulfillment": "AFN", "items": [{"sku": "LAMP-OFF", "qty": 1, "price": "29.00"}]}},
    {"do": "amazon.verify_payment", "order_id": FBA},
    {"do": "amazon.ship", "order_id": FBA},
    {"do": "settle"},
]


@pytest.fixture()
def store():
    """Amazon shipped an FBA order of a lamp the merchant had disabled in Commerce: its import was
    refused and parked; and a notification that is not JSON was parked too."""
    with merchants_store(steps=REFUSED_FBA_STEPS, catalog=STORE["catalog"]) as (player, handle, _log):
        player.stack.client("sqs").send_message(QueueUrl=player.stack.queue_url("NotificationsQueue"),
                                                MessageBody="{not json")
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
    assert fba["sample"][0]["reason"].startswith("parked by fba-order-import: CommerceRejected: ")
    assert "LAMP-OFF" in fba["sample"][0]["reason"]
    notifications = queue(report, "NotificationsDeadLetterQueue")
    assert notifications["depth"] == 1 and "malformed JSON" in notifications["sample"][0]["reason"]
    assert notifications["sample"][0]["about"].startswith("not JSON")
    # the sample left the messages where they were
    _code, again = amazon_channel_json(capsys, "redrive", "--dry-run", handle=handle)
    assert queue(again, "FbaOrderImportDeadLetterQueue")["depth"] == 1
    assert player.result()["orders"][0]["commerce_order"] is None


def test_once_the_cause_is_fixed_redrive_moves_the_messages_back_and_reports_what_failed_again(store, capsys):
    player, handle = store
    # Given the merchant enables the lamp in Commerce
    player.commerce.set_product("LAMP-OFF", enabled=True)
    # When the operator redrives every dead-letter queue
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
    player, handle = store
    player.commerce.set_product("LAMP-OFF", enabled=True)
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
    assert one_line(err).startswith("amazon-channel redrive: no dead-letter queue 'NoSuchQueue' in the stack (its DLQs: ")
