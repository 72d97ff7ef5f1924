"""A played scenario's clock: waits take no wall time, yet every wait still lasts on that clock."""

from __future__ import annotations

import io
import json
import threading
import time
from pathlib import Path

import pytest

from amazon_channel_local.stack import LocalStack
from amazon_channel_local.stack_clock import SimulatedClock, WallClock

FIXTURES = Path(__file__).parent / "fixtures"


# ------------------------------------------------------------------------- the clock alone
def test_a_handler_waiting_for_the_rate_budget_moves_the_clock_at_once():
    """Given a scenario's clock, when a handler waits 40 s for Amazon's quota, then the clock
    is 40 s later and no wall time went by."""
    clock = SimulatedClock()
    before, wall = clock.time(), time.monotonic()

    clock.sleep(40)

    assert clock.time() - before >= 40
    assert time.monotonic() - wall < 1


def test_a_parked_workflow_wakes_when_the_clock_reaches_its_time():
    """Given a workflow parked for a 300 s Retry interval, when the stack jumps to the next event,
    then it wakes at once, and the clock never runs backwards."""
    clock = SimulatedClock()
    woke = threading.Event()
    worker = threading.Thread(target=lambda: (clock.park(300), woke.set()))
    worker.start()
    while clock.parked == 0:
        time.sleep(0.001)
    due = clock.next_due()
    assert due is not None and due - clock.time() > 290

    clock.advance_to(due)
    clock.advance_to(due - 1000)

    assert woke.wait(5)
    worker.join(5)
    assert clock.time() >= due and clock.parked == 0


def test_stopping_the_stack_releases_every_parked_workflow():
    clock = SimulatedClock()
    worker = threading.Thread(target=clock.park, args=(3600,))
    worker.start()
    while clock.parked == 0:
        time.sleep(0.001)

    clock.stop()

    worker.join(5)
    assert not worker.is_alive()


def test_the_wall_clock_cannot_be_moved():
    clock = WallClock()
    clock.advance_to(clock.time() + 3600)
    assert abs(clock.time() - time.time()) < 1 and not clock.simulated


# ------------------------------------------------------------------------- on the stack
@pytest.fixture(scope="module")
def stack():
    with LocalStack(root=FIXTURES, log_stream=io.StringIO(), stack_name="clock", clock=SimulatedClock()) as st:
        yield st


def test_a_message_delayed_fifteen_minutes_is_worked_without_waiting_them(stack):
    """Given a message sent to a polled queue with a 15-minute delay (SQS's longest), when the
    stack settles, then the worker has it, the clock moved 15 minutes, and the wall clock did not."""
    sqs, clock = stack.client("sqs"), stack.clock
    before, wall = clock.time(), time.monotonic()
    sqs.send_message(QueueUrl=stack.queue_url("WorkQueue"), MessageBody=json.dumps({"id": "late"}), DelaySeconds=900)

    stack.settle()

    item = stack.client("dynamodb").get_item(TableName=stack.resources["Table"], Key={"pk": {"S": "work#late"}})
    assert "Item" in item
    assert clock.time() - before >= 900
    assert time.monotonic() - wall < 60


def test_a_message_put_back_for_the_budget_refill_comes_back_on_the_clock(stack):
    """Given a message received and put back with a 120 s visibility timeout (a deferral until the
    rate budget refills), when the stack settles, then it is delivered again after 120 s of clock."""
    sqs, clock = stack.client("sqs"), stack.clock
    url = stack.queue_url("WorkQueue")
    sqs.send_message(QueueUrl=url, MessageBody=json.dumps({"id": "deferred"}))
    got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=1)["Messages"][0]
    sqs.change_message_visibility(QueueUrl=url, ReceiptHandle=got["ReceiptHandle"], VisibilityTimeout=120)
    before = clock.time()

    stack.settle()

    item = stack.client("dynamodb").get_item(TableName=stack.resources["Table"], Key={"pk": {"S": "work#deferred"}})
    assert "Item" in item
    assert clock.time() - before >= 120


def test_retry_intervals_are_waited_on_the_clock(stack):
    """Given a workflow whose task fails twice (Retry every 1 s), when the stack settles, then the
    task ran three times and the clock, not the wall, took the two intervals."""
    sfn = stack.client("stepfunctions")
    arn = stack.resources["FlowStateMachine"]
    before = stack.clock.time()

    sfn.start_execution(stateMachineArn=arn, name="retried", input=json.dumps({"id": "r1", "fail_times": 2}))
    stack.settle()

    attempts = stack.client("dynamodb").get_item(TableName=stack.resources["Table"], Key={"pk": {"S": "attempts#r1"}})
    assert attempts["Item"]["n"]["N"] == "3"
    assert stack.clock.time() - before >= 2


def test_moto_sqs_reads_the_scenarios_clock(stack):
    """The patch is small and guarded: moto 5.2's SQS reads the time through two names only."""
    import moto
    import moto.sqs.models as sqs_models

    assert moto.__version__.startswith("5.2."), "re-check moto_patches.sqs_on_the_stack_clock for this moto"
    assert abs(sqs_models.unix_time() - stack.clock.time()) < 1
    assert abs(sqs_models.unix_time_millis() / 1000 - stack.clock.time()) < 1
