"""Stacks started one after another in the same process (no module-scoped stack alive here)."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from amazon_channel_local.stack import LocalStack

FIXTURES = Path(__file__).parent / "fixtures"


def _item(st: LocalStack, pk: str) -> dict | None:
    return st.client("dynamodb").get_item(TableName=st.resources["Table"], Key={"pk": {"S": pk}}).get("Item")


def test_handler_output_never_reaches_process_stdout(capfd):
    with LocalStack(root=FIXTURES, stack_name="quiet") as st:
        st.client("sqs").send_message(QueueUrl=st.queue_url("WorkQueue"), MessageBody=json.dumps({"id": "q"}))
        st.settle(timeout=10)
        st.client("stepfunctions").start_execution(
            stateMachineArn=st.resources["FlowStateMachine"], input=json.dumps({"id": "q", "boom": True})
        )
        st.settle(timeout=10)
        log_path = st.log_path
    out, err = capfd.readouterr()
    assert "worker" not in out and "worker" not in err
    assert "PermanentError" not in out and "PermanentError" not in err
    text = log_path.read_text()
    assert "worker module imported" in text and "worker got 1 records" in text and "PermanentError" in text
    assert '"message":"worker batch"' in text  # Powertools Logger output, in a second stack of the process


def test_a_second_stack_starts_cold_and_logs_to_its_own_stream():
    first, second = io.StringIO(), io.StringIO()
    for log in (first, second):
        with LocalStack(root=FIXTURES, log_stream=log, stack_name="again") as st:
            st.client("sqs").send_message(QueueUrl=st.queue_url("WorkQueue"), MessageBody=json.dumps({"id": "x"}))
            st.settle(timeout=10)
            assert _item(st, "work#x")
    for log in (first, second):
        assert "worker module imported" in log.getvalue() and '"message":"worker batch"' in log.getvalue()


def test_only_one_stack_at_a_time():
    with LocalStack(root=FIXTURES, log_stream=io.StringIO()), pytest.raises(RuntimeError, match="already running"):
        LocalStack(root=FIXTURES, log_stream=io.StringIO()).start()
