"""`amazon-channel trace ORDER_ID`: an order's timeline, from the stack's records and the workflow."""

from __future__ import annotations

import re

import pytest
from debugging_stage import BLOCKED, FBA, MFN, amazon_channel, amazon_channel_json, merchants_store, one_line
from moto.server import ThreadedMotoServer


@pytest.fixture(scope="module")
def store():
    with merchants_store() as (player, handle, _log):
        yield player, handle


def kinds(timeline: list[dict]) -> list[str]:
    return [f"{r['source']}/{r['kind']}" for r in timeline]


def test_a_shipped_mfn_orders_trace_shows_notifications_steps_with_durations_and_calls_with_request_ids(store, capsys):
    _player, handle = store
    # Given a merchant-fulfilled order that went from Pending to Shipped
    # When the operator traces it
    code, trace = amazon_channel_json(capsys, "trace", MFN, handle=handle)
    timeline = trace["timeline"]
    # Then the order's state heads the trace
    assert code == 0
    assert trace["order"] == {
        "channel_status": "Shipped",
        "amazon_status": "Shipped",
        "fulfillment": "MFN",
        "commerce_order": "000000001",
        "workflow": "SUCCEEDED",
        "notes": "Shipped: every package confirmed to Amazon",
    }
    # And every notification Amazon sent is there, as received, with its NotificationId
    notifications = [r for r in timeline if r["kind"] == "notification"]
    assert [r["what"].split(" received")[0] for r in notifications] == [
        "ORDER_CHANGE Pending",
        "ORDER_CHANGE Unshipped",
        "ORDER_CHANGE Shipped",
    ]
    assert all(r["request_id"] for r in notifications)
    # And each status change, and each workflow step with its duration
    assert next(r["what"] for r in timeline if r["kind"] == "status").endswith("channel status new -> Pending")
    steps = {r["what"]: r["duration_s"] for r in timeline if r["kind"] == "task"}
    # (the workflow's own steps: the import and the shipments run in Express children, whose steps
    # show as the order's history rows, as on AWS, where Express executions have no execution history)
    assert list(steps) == ["Step ImportOrder", "Step WaitForShipments", "Step ShipOrder"]
    assert all(d is not None and d >= 0 for d in steps.values())
    # And each SP-API and Commerce call with the request id that answered it
    calls = {r["what"]: r["request_id"] for r in timeline if r["kind"] in ("sp-api", "commerce")}
    assert set(calls) >= {
        "Order details fetched (getOrder)",
        "Customer account resolved",
        "Commerce order 000000001 created",
        "Commerce shipment 2 recorded",
        "Package 2 confirmed to Amazon (confirmShipment)",
    }
    assert all(calls.values()), calls
    # And the Commerce event that woke the workflow, and the workflow's start and end
    assert "commerce/commerce-event" in kinds(timeline)
    assert [r["what"] for r in timeline if r["kind"] == "execution"] == [
        "Workflow execution started",
        "Workflow execution succeeded",
    ]
    # And it is one timeline, in time order
    assert [r["at"] for r in timeline] == sorted(r["at"] for r in timeline)


def test_a_blocked_orders_trace_shows_the_error_and_the_failed_task(store, capsys):
    _player, handle = store
    # Given an order for a product the merchant disabled in Commerce
    # When the operator traces it
    code, trace = amazon_channel_json(capsys, "trace", BLOCKED, handle=handle)
    timeline = trace["timeline"]
    # Then the failure shows where it happened, with Commerce's reason, and the order is in Error
    assert code == 0 and trace["order"]["channel_status"] == "Error"
    failed = [r for r in timeline if r["kind"] == "task-failed"]
    assert failed and "CommerceRejected" in failed[0]["what"] and "LAMP-OFF" in failed[0]["what"]
    errors = [r for r in timeline if r["kind"] == "error"]
    assert errors and "disabled" in errors[0]["what"]
    assert "Step RecordOrderError" in [r["what"] for r in timeline if r["kind"] == "task"]


def test_an_fba_orders_trace_has_no_workflow_and_shows_its_import(store, capsys):
    _player, handle = store
    code, trace = amazon_channel_json(capsys, "trace", FBA, handle=handle)
    assert code == 0 and trace["order"]["workflow"] is None
    assert [r["kind"] for r in trace["timeline"] if r["source"] == "workflow"] == []
    assert any(r["what"].startswith("Commerce order 000000002 created") and r["request_id"] for r in trace["timeline"])


def test_the_trace_is_a_readable_table_by_default(store, capsys):
    _player, handle = store
    code, out, _err = amazon_channel(capsys, "trace", MFN, handle=handle)
    assert code == 0
    assert f"{MFN}: Shipped (Amazon Shipped, MFN), Commerce order 000000001, workflow SUCCEEDED" in out
    for column in ("time (UTC)", "what", "took", "request / message id"):
        assert column in out
    # (a step's duration in ms or s, whichever the machine's speed gave)
    assert re.search(r"Step WaitForShipments\s+│\s+[\d.]+ (ms|s) │", out), out


def test_an_order_the_stack_does_not_have_is_one_line_and_exit_2(store, capsys):
    _player, handle = store
    code, out, err = amazon_channel(capsys, "trace", "999-9999999-9999999", handle=handle)
    assert code == 2 and out == ""
    assert one_line(err) == "amazon-channel trace: embedded stack amazon-channel-local has no order 999-9999999-9999999"


def test_the_same_trace_comes_from_a_local_stack_endpoint(store, capsys):
    # Given the stack served on a moto server endpoint on 127.0.0.1 (what `amazon-channel local up` runs)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        # When the operator traces the order through --endpoint (resources found through its CloudFormation)
        code, trace = amazon_channel_json(capsys, "trace", MFN, "--endpoint", f"http://{host}:{port}")
    finally:
        server.stop()
    # Then it is the same trace as in process
    _code, local = amazon_channel_json(capsys, "trace", MFN, handle=store[1])
    assert code == 0 and trace == local
