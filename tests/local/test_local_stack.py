"""The embedded local stack, proven on a small fixture SAM template (tests/local/fixtures)."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from amazon_channel_local.stack import LocalStack
from amazon_channel_local.template_loader import _substituted_definition

FIXTURES = Path(__file__).parent / "fixtures"


@pytest.fixture(scope="module")
def stack():
    log = io.StringIO()
    with LocalStack(root=FIXTURES, log_stream=log, time_scale=0.01, stack_name="fixture") as st:
        st.test_log = log
        yield st


def _count(st: LocalStack, logical_id: str) -> int:
    attrs = st.client("sqs").get_queue_attributes(QueueUrl=st.queue_url(logical_id), AttributeNames=["All"])
    a = attrs["Attributes"]
    return int(a["ApproximateNumberOfMessages"]) + int(a["ApproximateNumberOfMessagesNotVisible"])


def _drain(st: LocalStack, logical_id: str) -> list[dict]:
    sqs = st.client("sqs")
    out = []
    while True:
        msgs = sqs.receive_message(QueueUrl=st.queue_url(logical_id), MaxNumberOfMessages=10).get("Messages", [])
        if not msgs:
            return out
        for m in msgs:
            out.append(json.loads(m["Body"]))
            sqs.delete_message(QueueUrl=st.queue_url(logical_id), ReceiptHandle=m["ReceiptHandle"])


def _item(st: LocalStack, pk: str) -> dict | None:
    return st.client("dynamodb").get_item(TableName=st.resources["Table"], Key={"pk": {"S": pk}}).get("Item")


def test_stack_is_created_from_the_sam_template(stack):
    for lid in (
        "Table",
        "WorkQueue",
        "WorkDLQ",
        "Bus",
        "FixtureEventsRule",
        "FlowStateMachine",
        "SharedLayer",
        "WorkerFunction",
        "WorkerFunctionWork",
        "TaskFunction",
    ):
        assert stack.resources.get(lid), lid
    assert stack.resources["Bus"] == "fixture-bus"  # Ref of an EventBus is its name
    assert stack.outputs["FlowStateMachineArn"] == stack.resources["FlowStateMachine"]
    assert stack.outputs["WorkQueueUrl"] == stack.queue_url("WorkQueue")
    # types moto's CloudFormation lacks, created through its APIs: alarm, queue policy, secret
    alarm = stack.client("cloudwatch").describe_alarms(AlarmNames=[stack.resources["WorkDLQAlarm"]])["MetricAlarms"]
    assert alarm[0]["MetricName"] == "ApproximateNumberOfMessagesVisible"
    policy = stack.client("sqs").get_queue_attributes(
        QueueUrl=stack.queue_url("EventsQueue"), AttributeNames=["Policy"]
    )
    assert "events.amazonaws.com" in policy["Attributes"]["Policy"]
    secret = stack.client("secretsmanager").get_secret_value(SecretId=stack.resources["ApiSecret"])
    assert secret["Name"] == "fixture/api" and json.loads(secret["SecretString"]) == {"token": "t0"}
    assert stack.start_seconds > 0  # how long it takes is bench/'s to measure, not a test's
    cfg = stack.client("lambda").get_function_configuration(FunctionName=stack.resources["TaskFunction"])
    env = cfg["Environment"]["Variables"]
    assert env["TABLE_NAME"] == stack.resources["Table"] and env["GREETING"] == "hello"
    assert env["API_SECRET_ID"] == stack.resources["ApiSecret"] and ":secret:fixture/api" in env["API_SECRET_ID"]
    assert cfg["Layers"][0]["Arn"] == stack.resources["SharedLayer"]
    # moto's own pollers are disabled: a message stays in the queue until pump()
    esms = stack.client("lambda").list_event_source_mappings()["EventSourceMappings"]
    assert esms and all(m["State"] != "Enabled" for m in esms)
    sfn = stack.client("stepfunctions")
    definition = sfn.describe_state_machine(stateMachineArn=stack.resources["FlowStateMachine"])["definition"]
    assert "$$.Task.Token" in definition and stack.resources["WaiterFunction"] in definition


def test_invoke_runs_the_real_handler_with_layer_and_environment(stack):
    out = stack.invoke("TaskFunction", {"id": "direct"})
    assert out == {"attempts": 1, "function": stack.resources["TaskFunction"]}
    with pytest.raises(Exception) as err:
        stack.invoke("TaskFunction", {"id": "direct", "boom": True})
    assert type(err.value).__name__ == "PermanentError"
    assert stack.invocations[-1]["logical_id"] == "TaskFunction" and not stack.invocations[-1]["ok"]


def test_lambda_api_invoke_returns_error_payload_with_the_error_name(stack):
    resp = stack.client("lambda").invoke(
        FunctionName=stack.resources["TaskFunction"], Payload=json.dumps({"id": "api", "boom": True})
    )
    assert resp.get("FunctionError")
    payload = json.loads(resp["Payload"].read())
    assert payload["errorType"] == "PermanentError" and "api" in payload["errorMessage"]
    assert isinstance(payload["stackTrace"], list)


def test_sqs_partial_batch_failure_and_redrive_to_dlq(stack):
    sqs = stack.client("sqs")
    url = stack.queue_url("WorkQueue")
    for i in range(4):
        sqs.send_message(
            QueueUrl=url,
            MessageBody=json.dumps({"id": f"b{i}", "fail": i == 2}),
            MessageAttributes={"kind": {"DataType": "String", "StringValue": "test"}},
        )
    assert _count(stack, "WorkQueue") == 4  # nothing consumed them before pump()
    assert stack.pump() == 4
    assert _count(stack, "WorkQueue") == 1  # only the failed one is left, visible again
    record = json.loads(_item(stack, "work#b0")["record"]["S"])
    assert record["eventSource"] == "aws:sqs"
    assert record["eventSourceARN"].endswith(url.rsplit("/", 1)[1])
    assert record["awsRegion"] == "us-east-1"
    assert record["attributes"]["ApproximateReceiveCount"] == "1" and "SentTimestamp" in record["attributes"]
    assert record["messageAttributes"]["kind"] == {
        "stringValue": "test",
        "stringListValues": [],
        "binaryListValues": [],
        "dataType": "String",
    }
    assert record["md5OfBody"] and record["receiptHandle"] and record["messageId"]
    stack.settle(timeout=10)
    assert _count(stack, "WorkQueue") == 0
    dead = _drain(stack, "WorkDLQ")
    assert [d["id"] for d in dead] == ["b2"]  # after maxReceiveCount (3) receives
    worker_batches = [i for i in stack.invocations if i["logical_id"] == "WorkerFunction"]
    assert len(worker_batches) == 3


def test_eventbridge_rule_with_prefix_pattern_delivers_to_queue(stack):
    events = stack.client("events")
    events.put_events(
        Entries=[
            {"EventBusName": stack.resources["Bus"], "Source": "fixture.test", "DetailType": "T", "Detail": '{"n": 1}'},
            {"EventBusName": stack.resources["Bus"], "Source": "other.test", "DetailType": "T", "Detail": '{"n": 2}'},
        ]
    )
    got = _drain(stack, "EventsQueue")
    assert [(g["source"], g["detail"]) for g in got] == [("fixture.test", {"n": 1})]


def test_eventbridge_rule_with_lambda_target_runs_the_handler(stack):
    stack.client("events").put_events(
        Entries=[
            {
                "EventBusName": stack.resources["Bus"],
                "Source": "fixture.echo",
                "DetailType": "Echo",
                "Detail": '{"id": "e1"}',
            },
        ]
    )
    stack.settle(timeout=10)
    event = json.loads(_item(stack, "echo#e1")["event"]["S"])
    assert event["detail-type"] == "Echo" and event["source"] == "fixture.echo"
    _drain(stack, "EventsQueue")  # the prefix rule saw it too


def test_state_machine_retry_catch_puts_events_and_waits_for_token(stack):
    sfn = stack.client("stepfunctions")
    arn = stack.resources["FlowStateMachine"]
    ok = sfn.start_execution(stateMachineArn=arn, name="ok", input=json.dumps({"id": "s1", "fail_times": 2}))
    sfn.start_execution(stateMachineArn=arn, name="boom", input=json.dumps({"id": "s2", "boom": True}))
    stack.settle(timeout=20)
    by_name = {e["name"]: e for e in stack.executions()}
    assert by_name["ok"]["status"] == "RUNNING"  # waiting on its task token: settle() returned anyway
    assert by_name["boom"]["status"] == "FAILED" and by_name["boom"]["error"] == "Recovered"
    # Retry matched the handler's exception NAME, twice, then the task succeeded
    hist = stack.history(ok["executionArn"])
    failures = [h["lambdaFunctionFailedEventDetails"]["error"] for h in hist if h["type"] == "LambdaFunctionFailed"]
    assert failures == ["TransientError", "TransientError"]
    assert hist[-1]["type"] == "TaskSubmitted"
    # Catch on PermanentError ran the recover task with the error
    assert _item(stack, "recovered#s2")["error"]["S"] == "PermanentError"
    # the putEvents task's event reached the queue through the prefix rule
    announced = [e for e in _drain(stack, "EventsQueue") if e["detail-type"] == "WorkDone"]
    assert [a["detail"] for a in announced] == [{"id": "s1", "attempts": 3}]
    assert _item(stack, "token#s1")  # the waiter handler parked the token
    # another handler (SQS-triggered) resumes the workflow with send_task_success
    stack.client("sqs").send_message(QueueUrl=stack.queue_url("ResumeQueue"), MessageBody=json.dumps({"id": "s1"}))
    stack.settle(timeout=20)
    done = sfn.describe_execution(executionArn=ok["executionArn"])
    assert done["status"] == "SUCCEEDED"
    assert json.loads(done["output"])["resumed"] == {"resumed_by": stack.resources["ResumerFunction"]}
    assert "task invoked" in stack.test_log.getvalue()


def test_settle_timeout_names_what_is_busy(stack):
    # no token was parked for this id: the resumer fails every time, and ResumeQueue has no DLQ
    stack.client("sqs").send_message(QueueUrl=stack.queue_url("ResumeQueue"), MessageBody=json.dumps({"id": "none"}))
    with pytest.raises(TimeoutError, match="ResumeQueue"):
        stack.settle(timeout=0.5)
    stack.client("sqs").purge_queue(QueueUrl=stack.queue_url("ResumeQueue"))
    stack.settle(timeout=5)


def test_definition_substitutions_keep_asl_dollars():
    out = _substituted_definition(
        '{"a": "${Fn}", "t.$": "$$.Task.Token", "l": "${!Literal}", "u": "${Unknown}"}', {"Fn": {"Ref": "X"}}
    )
    assert out == {
        "Fn::Join": ["", ['{"a": "', {"Ref": "X"}, '", "t.$": "$$.Task.Token", "l": "${Literal}", "u": "${Unknown}"}']]
    }
