"""The cancellation samples in events/ are what the new handlers accept."""

import json
from pathlib import Path

from aws_lambda_powertools.utilities.parser import parse

from amazon_channel.contracts import CommerceOrderCanceled, WorkflowState

EVENTS = Path(__file__).resolve().parents[2] / "events"


def body(path):
    return json.loads(json.loads((EVENTS / path).read_text())["Records"][0]["body"])


def test_commerce_cancellation_events_name_the_order_whichever_event_it_is():
    credit_memo = CommerceOrderCanceled.parse(body("commerce_cancellation_intake/credit-memo-saved.json"))
    canceled = CommerceOrderCanceled.parse(body("commerce_cancellation_intake/order-canceled.json"))
    assert credit_memo.commerce_order_id == canceled.commerce_order_id == 1


def test_the_cancellation_task_samples_parse():
    for folder in ("cancel_commerce_order", "request_amazon_cancellation"):
        parse(event=json.loads((EVENTS / folder / "task-input.json").read_text()), model=WorkflowState)
