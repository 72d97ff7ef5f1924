"""`amazon-channel replay --from T1 --to T2 [--rule NAME]`: archived events replayed, harmlessly."""

from __future__ import annotations

import json

import pytest
from debugging_stage import amazon_channel, amazon_channel_json, merchants_store, one_line

from amazon_channel.adapters.dynamodb_orders import DynamoDbOrderStore


@pytest.fixture(scope="module")
def store():
    with merchants_store() as (player, handle, log):
        yield player, handle, log


def everything(player) -> dict:
    """What a replay must not change: the scenario's result, every order's history, Commerce, Amazon."""
    store = DynamoDbOrderStore(player.stack.resources["OrdersTable"], player.stack.client("dynamodb"))
    return {
        "result": player.result(with_snapshots=False),
        "histories": {o["id"]: [h.model_dump() for h in store.history(o["id"])] for o in player.scenario.orders},
        "commerce_orders": player.commerce.orders(),
        "amazon_calls": {k: v for k, v in player.amazon.call_counts.items() if k == "confirmShipment"},
        "executions": [(e["name"], e["status"]) for e in player.stack.executions()],
    }


def test_replaying_the_whole_archive_changes_nothing(store, capsys):
    player, handle, log = store
    # Given a store whose orders were imported, shipped and confirmed
    before = everything(player)
    # When every archived event of the last hour is replayed to every rule of the stack
    code, report = amazon_channel_json(capsys, "replay", "--from", "1h", handle=handle)
    # Then the replay completed and the stack's handlers received each replayed event
    assert code == 0
    assert [r["state"] for r in report["replays"]] == ["COMPLETED"]
    assert set(report["replays"][0]["rules"]) >= {
        "CommerceOrderCreatedRule",
        "CommerceShipmentSavedRule",
        "FbaOrderShippedRule",
    }  # every rule of the stack
    outcomes = {(o["handler"], o["result"]): o["events"] for o in report["by_outcome"]}
    assert outcomes == {
        ("CommerceShipmentIntake", "duplicate"): 1,
        ("CommerceShipmentIntake", "fba-order"): 1,
        ("FbaOrderImport", "already-imported"): 1,
    }
    assert report["events_handled"] == 3
    # And nothing changed: no second Commerce order, no second confirmation to Amazon, same histories
    assert everything(player) == before
    # And the handlers logged the replayed events as such
    name = report["replays"][0]["name"]
    replayed_logs = [
        json.loads(line)
        for line in log.getvalue().splitlines()
        if line.startswith("{") and "Replayed event handled" in line and name in line
    ]
    assert len(replayed_logs) == 3 and all(entry["replay"] == name for entry in replayed_logs)


def test_a_replay_filtered_to_one_rule_reaches_only_that_rules_handler(store, capsys):
    player, handle, _log = store
    before = everything(player)
    # When only the FBA import rule is replayed to
    code, report = amazon_channel_json(capsys, "replay", "--from", "1h", "--rule", "FbaOrderShipped", handle=handle)
    # Then only the FBA import handler received events, and nothing changed
    assert code == 0 and report["replays"][0]["rules"] == ["FbaOrderShippedRule"]
    assert report["by_outcome"] == [
        {"handler": "FbaOrderImport", "detail_type": "FbaOrderShipped", "result": "already-imported", "events": 1}
    ]
    assert everything(player) == before


def test_a_window_before_the_orders_replays_nothing(store, capsys):
    _player, handle, _log = store
    code, report = amazon_channel_json(capsys, "replay", "--from", "3d", "--to", "2d", handle=handle)
    assert code == 0 and report["events_handled"] == 0 and report["replays"][0]["state"] == "COMPLETED"


def test_the_report_is_readable_with_a_progress_bar(store, capsys):
    _player, handle, _log = store
    code, out, err = amazon_channel(capsys, "replay", "--from", "1h", "--name", "readable-report", handle=handle)
    assert code == 0
    assert "replay readable-report: COMPLETED" in out and "events replayed and handled by the stack: 3" in out
    assert "100%" in err  # the progress bar, on standard error


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--from", "1h", "--rule", "NoSuchRule"], "no rule 'NoSuchRule' in the stack (its rules: "),
        (["--from", "yesterday-ish"], "--from 'yesterday-ish': give an ISO-8601 time"),
        (["--from", "1h", "--to", "2h"], "must be before --to"),
    ],
)
def test_bad_arguments_are_one_line_and_exit_2(store, capsys, argv, message):
    code, out, err = amazon_channel(capsys, "replay", *argv, handle=store[1])
    assert code == 2 and out == "" and message in one_line(err)
