"""The debugging commands against `amazon-channel local up` (its endpoint, in another process), as a
person runs them from a shell: trace, export, simulate --replay, replay, redrive."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from amazon_channel_local.local_process import ROOT, LocalUpProcess

MFN, FBA = "113-0000000-0000001", "114-0000000-0000002"


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    run_dir = tmp_path_factory.mktemp("local-up-debugging")
    with LocalUpProcess(run_dir, "--scenario", "scenarios/demo-guest-and-fba.json") as running:
        yield running


def amazon_channel(stack, *args: str, out_file=None) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AMAZON_CHANNEL_") and k != "AWS_ENDPOINT_URL"}
    env["AMAZON_CHANNEL_ENDPOINT"] = stack.endpoint  # as `local up` users export it
    return subprocess.run(
        [sys.executable, "-m", "amazon_channel_local.cli", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )


def test_trace_export_and_local_reproduction_of_an_order_on_the_running_stack(stack, tmp_path):
    # Given the demo's orders played on the running stack
    # When the operator traces the merchant-fulfilled order
    trace = amazon_channel(stack, "trace", MFN, "--json")
    assert trace.returncode == 0, trace.stderr
    timeline = json.loads(trace.stdout)["timeline"]
    assert json.loads(trace.stdout)["order"]["channel_status"] == "Shipped"
    assert {"notification", "status", "task", "sp-api", "commerce"} <= {r["kind"] for r in timeline}
    # And exports it, and plays the export on a fresh embedded stack
    export = amazon_channel(stack, "export", MFN)
    assert export.returncode == 0, export.stderr
    path = tmp_path / "order.jsonl"
    path.write_text(export.stdout)
    assert json.loads(export.stdout.splitlines()[0])["amazon_order_id"] == MFN
    replayed = amazon_channel(stack, "simulate", "--replay", str(path), "--out", str(tmp_path / "cmp.json"))
    # Then the local history matches the running stack's
    assert replayed.returncode == 0, replayed.stdout + replayed.stderr
    assert json.loads((tmp_path / "cmp.json").read_text())["matches"]


def test_replay_and_redrive_on_the_running_stack(stack):
    # When the operator replays the last hour to every rule of the running stack
    replay = amazon_channel(stack, "replay", "--from", "1h", "--json")
    assert replay.returncode == 0, replay.stderr
    report = json.loads(replay.stdout)
    # Then it completed and the handlers received the replayed events, changing nothing
    assert report["replays"][0]["state"] == "COMPLETED" and report["events_handled"] >= 2
    assert {o["result"] for o in report["by_outcome"]} <= {"duplicate", "fba-order", "already-imported"}
    trace = json.loads(amazon_channel(stack, "trace", FBA, "--json").stdout)
    assert trace["order"]["commerce_order"] and trace["order"]["channel_status"] == "Shipped"
    # And redrive finds every dead-letter queue empty
    redrive = amazon_channel(stack, "redrive", "--json")
    assert redrive.returncode == 0, redrive.stderr
    assert all(q["depth"] == 0 for q in json.loads(redrive.stdout)["queues"])
